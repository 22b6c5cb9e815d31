package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) {
	// serve keeps its signing key in --data-dir: the tests that give none
	// share one outside the source tree, not ./.auditd here.
	os.Setenv("AUDITD_DATA_DIR", filepath.Join(os.TempDir(), "auditd-cmd-test-data"))
	pgtest.Main(m)
}

// startCommand runs `auditd args...` in the background and returns the URL it
// prints once it serves. The command stops when the test ends.
func startCommand(t *testing.T, args ...string) string {
	t.Helper()
	url, _ := startCommandOutput(t, args...)
	return url
}

// startCommandOutput is startCommand that also returns a function waiting
// for the command's first output line that starts with a prefix.
func startCommandOutput(t *testing.T, args ...string) (string, func(prefix string) string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	// exited closes once run has returned runErr: both the cleanup and an
	// early-exit failure read it, so neither waits for a second result.
	var runErr error
	exited := make(chan struct{})
	go func() {
		runErr = run(ctx, args, pw, io.Discard)
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			t.Errorf("auditd %s: %v", args[0], runErr)
		}
	})
	urls := make(chan string, 1)
	var mu sync.Mutex
	var lines []string
	grew := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			select {
			case grew <- struct{}{}:
			default:
			}
			if _, after, ok := strings.Cut(sc.Text(), "auditd is running: open "); ok {
				urls <- strings.TrimSpace(after)
			}
		}
		close(urls)
		_, _ = io.Copy(io.Discard, pr)
	}()
	line := func(prefix string) string {
		t.Helper()
		deadline := time.After(time.Minute)
		for {
			mu.Lock()
			for _, l := range lines {
				if strings.HasPrefix(l, prefix) {
					mu.Unlock()
					return l
				}
			}
			mu.Unlock()
			select {
			case <-grew:
			case <-deadline:
				t.Fatalf("auditd %s printed no line starting %q", args[0], prefix)
			}
		}
	}
	select {
	case u, ok := <-urls:
		if !ok {
			<-exited
			t.Fatalf("auditd %s exited before serving: %v", args[0], runErr)
		}
		return u, line
	case <-time.After(3 * time.Minute):
		t.Fatalf("auditd %s did not start serving", args[0])
	}
	return "", line
}

// signIn signs in through the sign-in form, as a browser does: the form
// sets the CSRF cookie, the POST sends its token back. The client keeps
// the session cookie.
func signIn(t *testing.T, base, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(base + "login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := neturl.Parse(base)
	var csrf string
	for _, c := range jar.Cookies(u) {
		if c.Name == "auditd_csrf" {
			csrf = c.Value
		}
	}
	resp, err = client.PostForm(base+"login", neturl.Values{"username": {user}, "password": {password}, "_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign in as %s: %d at %s: %.300s", user, resp.StatusCode, resp.Request.URL, body)
	}
	return client
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	getJSONAs(t, http.DefaultClient, url, into)
}

// getJSONAs is getJSON with client's cookies.
func getJSONAs(t *testing.T, client *http.Client, url string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// The demo on an existing database: migrates, loads the demo world, serves
// the overview with its data and the dispute story's stream.
func TestDemoServesDemoData(t *testing.T) {
	db := pgtest.NewDB(t)
	url, line := startCommandOutput(t, "demo", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--events", "3000", "--rate", "20")
	// Sign-in is on: the demo printed one user per role.
	demoUser := func(role string) *http.Client {
		f := strings.Fields(line("demo: sign in as " + role + " "))
		return signIn(t, url, f[4], f[6])
	}
	client := demoUser("support")
	var overview struct {
		Events  int64 `json:"events"`
		Streams int64 `json:"streams"`
		Newest  []struct {
			StreamID string `json:"stream_id"`
		} `json:"newest"`
	}
	getJSONAs(t, client, url, &overview)
	if overview.Events < 3000 || overview.Streams == 0 || len(overview.Newest) == 0 {
		t.Fatalf("overview after demo: %+v", overview)
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "WalletOpened") {
		t.Fatalf("overview page: %d, demo event types missing", resp.StatusCode)
	}
	// Roles are told apart: support may not export, compliance may.
	exportURL := url + "streams/" + demo.DisputeWalletID + "/export.csv"
	for role, want := range map[string]int{"support": http.StatusForbidden, "compliance": http.StatusOK} {
		c := client
		if role != "support" {
			c = demoUser(role)
		}
		resp, err := c.Get(exportURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("export as %s: %d, want %d", role, resp.StatusCode, want)
		}
	}
	// Without a session, JSON is refused.
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("overview JSON without a session: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	var n int
	if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE stream_id = $1`, demo.DisputeWalletID).Scan(&n); err != nil || n == 0 {
		t.Fatalf("dispute wallet has %d events (%v)", n, err)
	}
	// serve wires /metrics to its live path and projections.
	resp, err = http.Get(url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, name := range []string{"auditd_build_info", "auditd_live_consumer_events_total", "auditd_live_window_events", "auditd_projections_up", "auditd_http_request_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// Without --database-url auditd starts, and on the next run reuses, its own
// cluster in --data-dir.
func TestEmbeddedClusterIsStartedAndReused(t *testing.T) {
	dir, err := os.MkdirTemp("", "auditd-cmd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dataDir := filepath.Join(dir, "data")
	var out strings.Builder
	if err := run(t.Context(), []string{"seed", "--data-dir", dataDir, "--events", "500"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "loaded") {
		t.Fatalf("seed output: %q", out.String())
	}
	out.Reset()
	// Second run: same cluster, data still there.
	if err := run(t.Context(), []string{"seed", "--data-dir", dataDir, "--events", "500"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already loaded") {
		t.Fatalf("second seed output: %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"migrate", "--data-dir", dataDir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 0 migration") {
		t.Fatalf("migrate after seed: %q", out.String())
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	var out strings.Builder
	for range 2 {
		out.Reset()
		if err := run(t.Context(), []string{"migrate", "--database-url", db.ConnString}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	// The template already had everything: both runs apply nothing.
	if !strings.Contains(out.String(), "applied 0 migration") {
		t.Fatalf("second migrate: %q", out.String())
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO auditd.schema_migrations (set, version, name) VALUES ('auditd', 999, 'future')`); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--no-live"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "newer than this auditd binary") {
		t.Fatalf("serve on a newer schema: %v", err)
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	var cfg config
	fs := newFlagSet("serve", &cfg, io.Discard)
	t.Setenv("AUDITD_LISTEN", "127.0.0.1:9999")
	t.Setenv("AUDITD_LOG_LEVEL", "debug")
	if err := parse(fs, []string{"--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" {
		t.Errorf("env did not set listen: %q", cfg.Listen)
	}
	if cfg.LogLevel != "warn" {
		t.Errorf("flag must win over env: %q", cfg.LogLevel)
	}
	var cfg2 config
	t.Setenv("AUDITD_STALL_AFTER", "not-a-duration")
	if err := parse(newFlagSet("serve", &cfg2, io.Discard), nil); err == nil || !strings.Contains(err.Error(), "AUDITD_STALL_AFTER") {
		t.Errorf("bad env value: %v", err)
	}
	if err := run(t.Context(), []string{"nope"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
	if err := run(t.Context(), []string{"serve", "-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "auditd ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
}
