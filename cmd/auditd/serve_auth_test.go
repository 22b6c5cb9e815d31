package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/pgtest"
)

// Sign-in can be off only on a loopback address; a server reachable from
// elsewhere needs --public-url. Both refusals come before anything starts.
func TestServeRefusesAuthOffAndMissingPublicURLOffLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0", "--auth=off", "--public-url", "https://auditd.example.org"}, "--auth=off is refused on --listen 0.0.0.0:0"},
		{[]string{"--listen", ":0", "--auth=off"}, "--auth=off is refused"},
		{[]string{"--listen", "0.0.0.0:0"}, "--public-url is required"},
		{[]string{"--listen", "127.0.0.1:0", "--public-url", "ftp://x"}, "invalid --public-url"},
		{[]string{"--listen", "127.0.0.1:0", "--auth", "maybe"}, "invalid --auth"},
		{[]string{"--listen", "127.0.0.1:0", "--oidc-issuer", "http://127.0.0.1:1/"}, "--oidc-issuer needs --public-url"},
		{[]string{"--listen", "127.0.0.1:0", "--oidc-issuer", "http://127.0.0.1:1/", "--auth=off"}, "single sign-on needs sign-in on"},
		{[]string{"--listen", "127.0.0.1:0", "--trusted-proxies", "10.0.0.0/8,nonsense"}, "invalid --trusted-proxies entry \"nonsense\""},
	} {
		// No database is opened: the URL names no server at all.
		args := append([]string{"serve", "--database-url", "postgres://nobody@127.0.0.1:1/none"}, tc.args...)
		err := run(t.Context(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// The first start with no users prints a one-time setup link; following it
// creates an admin who is then signed in.
func TestServeFirstStartPrintsTheSetupLink(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	url, line := startCommandOutput(t, "serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--no-live")
	l := line("no users yet: create the first admin at ")
	_, link, _ := strings.Cut(l, " at ")
	link, _, _ = strings.Cut(link, " ")
	if !strings.HasPrefix(link, url+"setup?token=") {
		t.Fatalf("setup link %q", l)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup form: %d", resp.StatusCode)
	}
	u, _ := neturl.Parse(url)
	var csrf string
	for _, c := range jar.Cookies(u) {
		if c.Name == "auditd_csrf" {
			csrf = c.Value
		}
	}
	tok := strings.TrimPrefix(link, url+"setup?token=")
	resp, err = client.PostForm(url+"setup", neturl.Values{"token": {tok}, "username": {"root"}, "password": {"a long enough password"}, "_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" || !strings.Contains(string(body), "root · admin") {
		t.Fatalf("after setup: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The link is spent.
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("setup link reused: %v %v", resp.Status, err)
	}
	var n int
	if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.users WHERE role = 'admin'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("admins: %d %v", n, err)
	}
}
