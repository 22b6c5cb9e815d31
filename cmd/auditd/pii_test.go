package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/pgtest"
)

// A pii section with a pointer that is none stops `auditd serve` before it
// listens, with an error naming the file and the key: serving with part
// of the personal data unmasked is worse than not serving.
func TestServeRefusesABadPIIPointer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	bad := filepath.Join(t.TempDir(), "auditd.json")
	if err := os.WriteFile(bad, []byte(`{"pii": {"Wallet": {"events": {"WalletOpened": ["/owner", "owner/email"]}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	err := run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--config", bad, "--listen", "127.0.0.1:0", "--no-live", "--auth", "off"}, &stdout, io.Discard)
	if err == nil {
		t.Fatal("serve started with a bad pii pointer")
	}
	for _, want := range []string{bad, "pii.Wallet.events.WalletOpened[1]", `"owner/email" is not a JSON pointer`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(stdout.String(), "auditd is running") {
		t.Errorf("serve listened before failing: %q", stdout.String())
	}
}
