package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A case reference is required by --require-case or by the configuration
// file's access_log section; a misspelt key there stops start-up.
func TestRequireCaseFromFlagOrConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		args []string
		want bool
		err  string
	}{
		{nil, false, ""},
		{[]string{"--require-case"}, true, ""},
		{[]string{"--config", write("on.json", `{"reducers": {}, "access_log": {"require_case": true}}`)}, true, ""},
		{[]string{"--config", write("off.json", `{"reducers": {}, "access_log": {"require_case": false}}`)}, false, ""},
		{[]string{"--config", write("typo.json", `{"access_log": {"require_cases": true}}`)}, false, "access_log"},
		{[]string{"--auth=off", "--require-case"}, false, "--require-case needs sign-in"},
	} {
		var cfg config
		if err := parse(newFlagSet("serve", &cfg, io.Discard), tc.args); err != nil {
			t.Fatal(err)
		}
		wc, err := webConfig(&cfg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: %v, want an error naming %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || wc.RequireCase != tc.want {
			t.Errorf("%v: RequireCase %v, %v; want %v", tc.args, wc.RequireCase, err, tc.want)
		}
	}
}
