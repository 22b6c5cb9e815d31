package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/projections"
)

// authBundle is a server with sign-in ON, as production runs it, behind a
// real listener, with a user of every role and a movable clock.
type authBundle struct {
	*bundle
	http   *httptest.Server
	access *access.Service
	clock  *testClock
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const testPassword = "a long enough password"

// authSetup builds the server with cfg (sign-in on unless cfg says off)
// and every service a route needs, so that each route can answer 200.
func authSetup(t *testing.T, cfg Config, opts access.Options) *authBundle {
	t.Helper()
	clk := &testClock{now: time.Now()}
	opts.Now = clk.Now
	ab := &authBundle{clock: clk}
	b := setup(t, func(d *Deps) {
		d.Access = access.NewService(d.Pool, nil, opts)
		ab.access = d.Access
		d.Projections = projections.NewMonitor(d.Pool, nil, projections.Options{Declared: []string{"wallet_balances"}})
		if _, err := d.Pool.Exec(t.Context(), `CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric)`); err != nil {
			t.Fatal(err)
		}
		startDrift(t, d, `{"reducers": {}, "drift": {"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}}}`)
		d.LiveHub = live.NewHub(live.HubConfig{})
		d.LiveAlerts = live.NewAlerts(d.Pool)
		d.LiveHeartbeat = time.Hour
		d.Checkpoints = ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: testSigningKey, Interval: -1}, ledger.NewStore(d.Pool))
	})
	b.server = New(cfg, b.server.deps)
	ab.bundle = b
	ab.http = httptest.NewServer(b.server.Handler())
	t.Cleanup(func() { b.server.deps.LiveHub.Close(); ab.http.Close() })
	for _, r := range access.Roles() {
		if _, err := ab.access.AddUser(t.Context(), r.String(), r, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	return ab
}

// authConfig is sign-in on, as a zero Config has it, with the Host the
// in-process requests send accepted.
var authConfig = Config{PublicURL: "http://example.com"}

// user is a client of the test server: a cookie jar (session, CSRF), or a
// bearer token; it never follows redirects, so 302s are seen.
type user struct {
	t      *testing.T
	base   string
	client *http.Client
	bearer string
}

func (ab *authBundle) anonymous() *user {
	jar, _ := cookiejar.New(nil)
	return &user{t: ab.t, base: ab.http.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs in through the form.
func (ab *authBundle) signIn(name string) *user {
	ab.t.Helper()
	u := ab.anonymous()
	resp := u.postForm("/login", url.Values{"username": {name}, "password": {testPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		ab.t.Fatalf("sign in as %s: %d", name, resp.StatusCode)
	}
	return u
}

// withToken is a client authenticated by a fresh API token of name.
func (ab *authBundle) withToken(name string) *user {
	ab.t.Helper()
	_, secret, err := ab.access.CreateToken(ab.t.Context(), name, time.Hour)
	if err != nil {
		ab.t.Fatal(err)
	}
	u := ab.anonymous()
	u.bearer = secret
	return u
}

// do sends a request and returns the response with its body read.
func (u *user) do(method, path string, body io.Reader, header http.Header) (*http.Response, string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, u.base+path, body)
	for k, v := range header {
		req.Header[k] = v
	}
	if u.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+u.bearer)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, "" // an open stream: its head is the answer
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// csrf is the client's CSRF token, fetched from the sign-in form's cookie.
func (u *user) csrf() string {
	u.t.Helper()
	base, _ := url.Parse(u.base)
	for range 2 {
		for _, c := range u.client.Jar.Cookies(base) {
			if c.Name == "auditd_csrf" {
				return c.Value
			}
		}
		u.do(http.MethodGet, "/login", nil, nil)
	}
	u.t.Fatal("no CSRF cookie")
	return ""
}

// postForm posts form with the CSRF token unless form has one (or the
// client sends a bearer token, which needs none).
func (u *user) postForm(path string, form url.Values, header http.Header) *http.Response {
	u.t.Helper()
	if !form.Has("_csrf") && u.bearer == "" {
		form.Set("_csrf", u.csrf())
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for k, v := range header {
		h[k] = v
	}
	resp, _ := u.do(http.MethodPost, path, strings.NewReader(form.Encode()), h)
	return resp
}

// Every role × every route × every channel through the real router:
// signed out, a page view goes to the sign-in form and everything else
// gets 401; a role below the route's gets 403; the others reach the page.
func TestEveryRoleOnEveryRouteAndChannel(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	evs := ab.append("wallet-1", "Wallet", ev("WalletOpened", `{"owner": "ann"}`, `{}`), ev("MoneyDeposited", `{"amount": 5}`, `{}`))
	admin := ab.signIn("admin")
	resp := admin.postForm("/projections/wallet_balances/drift/jobs", url.Values{}, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin starts a drift job: %d", resp.StatusCode)
	}
	jobURL := resp.Header.Get("Location")
	if jobURL == "" {
		var created struct {
			URL string `json:"url"`
		}
		_, body := admin.do(http.MethodPost, "/projections/wallet_balances/drift/jobs", strings.NewReader(url.Values{"_csrf": {admin.csrf()}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}})
		if err := json.Unmarshal([]byte(body), &created); err != nil || created.URL == "" {
			t.Fatalf("drift job URL: %q %v", body, err)
		}
		jobURL = created.URL
	}

	const (
		html = "html"
		js   = "json"
		csv  = "csv"
		sse  = "sse"
		form = "post"
	)
	accept := map[string]string{html: "text/html", js: "application/json", csv: "text/csv", sse: "text/event-stream", form: "text/html"}
	routes := []struct {
		route    string // as registered
		path     string // a concrete request
		need     access.Role
		channels []string
		ok       int // the status of an allowed request
	}{
		{"GET /", "/", access.Support, []string{html, js}, 200},
		{"GET /find", "/find", access.Support, []string{html, js}, 200},
		{"GET /streams", "/streams?q=wallet", access.Support, []string{html, js}, 200},
		{"GET /streams/:id", "/streams/wallet-1", access.Support, []string{html, js}, 200},
		{"GET /streams/:id/state", "/streams/wallet-1/state", access.Support, []string{html, js}, 200},
		{"GET /streams/:id/diff", "/streams/wallet-1/diff?from=v:1&to=v:2", access.Support, []string{html, js}, 200},
		{"GET /streams/:id/fields", "/streams/wallet-1/fields?path=/balance", access.Support, []string{html, js}, 200},
		// This bundle runs without a witness ledger: allowed, the route answers 503.
		{"GET /streams/:id/verify", "/streams/wallet-1/verify", access.Support, []string{html, js}, 503},
		// Unmasked stored values: compliance; without a ledger, 503.
		{"GET /streams/:id/evidence", "/streams/wallet-1/evidence?from=v:0&to=v:2", access.Compliance, []string{js, html}, 503},
		{"GET /about/keys", "/about/keys", access.Support, []string{html, js}, 200},
		{"POST /about/keys/checkpoints", "/about/keys/checkpoints", access.Compliance, []string{form}, 503},
		{"GET /events", "/events", access.Support, []string{html, js}, 200},
		{"GET /events/:position", fmt.Sprintf("/events/%d", evs[0].Position), access.Support, []string{html, js}, 200},
		{"GET /events/:position/raw", fmt.Sprintf("/events/%d/raw", evs[0].Position), access.Support, []string{html, js}, 200},
		{"GET /live/events", "/live/events", access.Support, []string{sse}, 200},
		{"GET /live", "/live", access.Engineer, []string{html, js}, 200},
		{"GET /alerts", "/alerts", access.Engineer, []string{html, js}, 200},
		{"GET /setup/source", "/setup/source", access.Engineer, []string{html, js}, 200},
		// This bundle runs without a witness ledger: allowed, the routes answer 503.
		{"GET /verify", "/verify", access.Compliance, []string{html, js}, 503},
		{"POST /verify", "/verify", access.Compliance, []string{form}, 503},
		{"GET /projections", "/projections", access.Engineer, []string{html, js}, 200},
		{"GET /projections/:name", "/projections/wallet_balances", access.Engineer, []string{html, js}, 200},
		{"GET /projections/:name/drift", "/projections/wallet_balances/drift", access.Engineer, []string{html, js}, 200},
		{"POST /projections/:name/drift/jobs", "/projections/wallet_balances/drift/jobs", access.Engineer, []string{form}, 303},
		{"GET /projections/:name/drift/jobs/:id", jobURL, access.Engineer, []string{html, js}, 200},
		{"GET /streams/:id/projections", "/streams/wallet-1/projections", access.Engineer, []string{html, js}, 200},
		{"GET /streams/:id/export.csv", "/streams/wallet-1/export.csv", access.Compliance, []string{csv, html}, 200},
		{"GET /streams/:id/export.json", "/streams/wallet-1/export.json", access.Compliance, []string{js}, 200},
		// An empty form: allowed, and refused for want of a reason.
		{"POST /streams/:id/reveal", "/streams/wallet-1/reveal", access.Compliance, []string{form}, 400},
		{"GET /access-log", "/access-log?stream=wallet-1", access.Compliance, []string{html, js}, 200},
		{"GET /access-log.csv", "/access-log.csv", access.Compliance, []string{csv}, 200},
		// A token has no session to keep a case on (it sends X-Case-Ref).
		{"POST /session/case", "/session/case", access.Support, []string{form}, 303},
	}

	// Routes that answer an allowed token otherwise than a session.
	tokenStatus := map[string]int{"POST /session/case": http.StatusBadRequest}

	// The table covers every route the router has that needs a role.
	covered := map[string]bool{}
	for _, r := range routes {
		covered[r.route] = true
		if got := ab.server.needs[r.route]; got != r.need {
			t.Errorf("%s declares %v, the table expects %v", r.route, got, r.need)
		}
	}
	for _, r := range ab.server.echo.Routes() {
		key := r.Method + " " + r.Path
		if need, ok := ab.server.needs[key]; ok && need.Valid() && !covered[key] {
			t.Errorf("route %s (needs %v) is missing from the table", key, need)
		}
	}

	type who struct {
		name string
		role access.Role // 0: signed out
		u    *user
	}
	var clients []who
	clients = append(clients, who{"signed out", 0, ab.anonymous()})
	for _, r := range access.Roles() {
		clients = append(clients, who{r.String() + " (session)", r, ab.signIn(r.String())}, who{r.String() + " (token)", r, ab.withToken(r.String())})
	}
	for _, r := range routes {
		for _, ch := range r.channels {
			for _, c := range clients {
				want := r.ok
				if st, ok := tokenStatus[r.route]; ok && c.u.bearer != "" {
					want = st
				}
				switch {
				case c.role == 0 && (ch == html):
					want = http.StatusFound
				case c.role == 0:
					want = http.StatusUnauthorized
				case !c.role.Reaches(r.need):
					want = http.StatusForbidden
				}
				var resp *http.Response
				var body string
				if ch == form {
					resp = c.u.postForm(r.path, url.Values{}, http.Header{"Accept": {accept[ch]}})
				} else {
					resp, body = c.u.do(http.MethodGet, r.path, nil, http.Header{"Accept": {accept[ch]}})
				}
				if resp.StatusCode != want {
					t.Errorf("%s %s as %s over %s: %d, want %d; %.200s", r.route, r.path, c.name, ch, resp.StatusCode, want, body)
					continue
				}
				switch want {
				case http.StatusFound:
					if loc := resp.Header.Get("Location"); loc != "/login?next="+url.QueryEscape(r.path) {
						t.Errorf("%s signed out: redirected to %q", r.path, loc)
					}
				case http.StatusForbidden:
					if ch == form {
						break
					}
					if !strings.Contains(body, "needs the "+r.need.String()+" role") {
						t.Errorf("%s as %s over %s: 403 does not name the role: %.300s", r.path, c.name, ch, body)
					}
					if ch == js && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
						t.Errorf("%s as %s: JSON 403 is %s", r.path, c.name, resp.Header.Get("Content-Type"))
					}
				}
			}
		}
	}

	// Open routes answer anyone, without a session.
	anon := ab.anonymous()
	for _, p := range []string{"/healthz", "/readyz", "/static/app.css", "/login"} {
		if resp, _ := anon.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("open route %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := anon.do(http.MethodGet, "/no/such/page", nil, http.Header{"Accept": {"text/html"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

// A route registered around the declarations (no role) is closed.
func TestRouteWithoutRoleIsRefused(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	ab.server.echo.GET("/undeclared", ab.server.showAlerts)
	resp, body := ab.signIn("admin").do(http.MethodGet, "/undeclared", nil, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "declares no role") {
		t.Fatalf("undeclared route: %d %s", resp.StatusCode, body)
	}
}

func TestSignInFormCookieAndSignOut(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, Config{PublicURL: "https://auditd.example.org"}, access.Options{})
	// The listener is reached as 127.0.0.1: loopback names pass the Host check.
	u := ab.anonymous()
	resp, body := u.do(http.MethodGet, "/login?next=/streams", nil, http.Header{"Accept": {"text/html"}})
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d %v", resp.StatusCode, err)
	}
	for _, name := range []string{"username", "password", "_csrf", "next"} {
		if doc.Find(`form[action="/login"] input[name="`+name+`"]`).Length() != 1 {
			t.Errorf("sign-in form has no %s field", name)
		}
	}
	if doc.Find(`input[name="next"]`).AttrOr("value", "") != "/streams" || doc.Find(`input[name="_csrf"]`).AttrOr("value", "") != u.csrf() {
		t.Error("sign-in form lacks next or the CSRF token")
	}
	if doc.Find(`[data-testid="banner"]`).Length() != 0 || doc.Find(`[data-testid="auth-off"]`).Length() != 0 {
		t.Error("banners on the sign-in form")
	}

	// Unknown user and wrong password: the same answer.
	wrong := u.postForm("/login", url.Values{"username": {"support"}, "password": {"not the password"}}, nil)
	unknown := u.postForm("/login", url.Values{"username": {"nobody"}, "password": {"not the password"}}, nil)
	if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failed sign-ins: %d %d", wrong.StatusCode, unknown.StatusCode)
	}
	_, wb := u.do(http.MethodPost, "/login", strings.NewReader(url.Values{"username": {"support"}, "password": {"x"}, "_csrf": {u.csrf()}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	_, ub := u.do(http.MethodPost, "/login", strings.NewReader(url.Values{"username": {"nobody"}, "password": {"x"}, "_csrf": {u.csrf()}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	msg := func(b string) string {
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(b))
		return d.Find(`[data-testid="login-error"]`).Text()
	}
	if msg(wb) == "" || msg(wb) != msg(ub) {
		t.Errorf("wrong password says %q, unknown user %q", msg(wb), msg(ub))
	}

	// Success: a session cookie, HttpOnly, SameSite=Lax, Secure (https
	// public URL), and the redirect to next.
	ok := u.postForm("/login", url.Values{"username": {"engineer"}, "password": {testPassword}, "next": {"/projections"}}, nil)
	if ok.StatusCode != http.StatusSeeOther || ok.Header.Get("Location") != "/projections" {
		t.Fatalf("sign in: %d → %q", ok.StatusCode, ok.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range ok.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || !session.Secure || session.Value == "" {
		t.Fatalf("session cookie: %+v", session)
	}
	// The jar does not send a Secure cookie over http: send it by hand.
	signedIn := ab.anonymous()
	base, _ := url.Parse(ab.http.URL)
	signedIn.client.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: session.Value}})
	resp, body = signedIn.do(http.MethodGet, "/", nil, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "engineer · engineer") {
		t.Fatalf("signed-in overview: %d", resp.StatusCode)
	}
	// Sign out ends the session on the server, not only in the browser.
	out := signedIn.postForm("/logout", url.Values{}, nil)
	if out.StatusCode != http.StatusSeeOther || out.Header.Get("Location") != "/login" {
		t.Fatalf("sign out: %d %q", out.StatusCode, out.Header.Get("Location"))
	}
	if _, err := ab.access.Session(t.Context(), session.Value); err == nil {
		t.Fatal("session still open after sign-out")
	}
	stale := ab.anonymous()
	stale.client.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: session.Value}})
	if resp, _ := stale.do(http.MethodGet, "/", nil, http.Header{"Accept": {"application/json"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ended session: %d", resp.StatusCode)
	}
}

// next= must be a local path: anything else lands on the overview.
func TestSignInRefusesOpenRedirects(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	for next, want := range map[string]string{
		"/streams/wallet-1?at=v:2": "/streams/wallet-1?at=v:2",
		"https://evil.example/":    "/",
		"//evil.example/x":         "/",
		"/\\evil.example":          "/",
		"javascript:alert(1)":      "/",
		"":                         "/",
		"evil.example":             "/",
	} {
		u := ab.anonymous()
		resp := u.postForm("/login", url.Values{"username": {"support"}, "password": {testPassword}, "next": {next}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("next=%q: %d → %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

func TestSessionIdleAndAbsoluteExpiryThroughTheRouter(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
	u := ab.signIn("support")
	page := func() int {
		resp, _ := u.do(http.MethodGet, "/events", nil, http.Header{"Accept": {"text/html"}})
		return resp.StatusCode
	}
	if got := page(); got != http.StatusOK {
		t.Fatalf("fresh session: %d", got)
	}
	ab.clock.add(11 * time.Minute)
	// An htmx fragment of the page is told to send the page to sign-in.
	resp, _ := u.do(http.MethodGet, "/streams/wallet-1/state", nil, http.Header{"HX-Request": {"true"}, "HX-Current-URL": {ab.http.URL + "/streams/wallet-1?v=2"}})
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/login?next="+url.QueryEscape("/streams/wallet-1?v=2") {
		t.Fatalf("htmx fragment of an idle session: %d, HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	if got := page(); got != http.StatusFound {
		t.Fatalf("idle session: %d, want the sign-in redirect", got)
	}
	u = ab.signIn("support")
	for range 11 {
		ab.clock.add(5 * time.Minute)
		if got := page(); got != http.StatusOK {
			t.Fatalf("busy session before the absolute limit: %d", got)
		}
	}
	ab.clock.add(6 * time.Minute)
	if got := page(); got != http.StatusFound {
		t.Fatalf("session past the absolute limit: %d", got)
	}
}

func TestSignInThrottledThroughTheRouter(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{MaxAccountFailures: 3})
	u := ab.anonymous()
	for i := range 3 {
		if resp := u.postForm("/login", url.Values{"username": {"admin"}, "password": {"guess number " + fmt.Sprint(i)}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	// The right password is refused now too, and it says why.
	resp, body := u.do(http.MethodPost, "/login", strings.NewReader(url.Values{"username": {"admin"}, "password": {testPassword}, "_csrf": {u.csrf()}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("throttled: %d", resp.StatusCode)
	}
	ab.clock.add(16 * time.Minute)
	if resp := u.postForm("/login", url.Values{"username": {"admin"}, "password": {testPassword}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

// State-changing requests need the CSRF token and a same-origin sender.
func TestCSRFTokenAndOriginChecked(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	u := ab.signIn("engineer")
	const drift = "/projections/wallet_balances/drift/jobs"
	for name, tc := range map[string]struct {
		form   url.Values
		header http.Header
	}{
		"missing token":       {url.Values{"_csrf": {""}}, nil},
		"forged token":        {url.Values{"_csrf": {"forged"}}, nil},
		"foreign Origin":      {url.Values{}, http.Header{"Origin": {"http://evil.example"}}},
		"null Origin":         {url.Values{}, http.Header{"Origin": {"null"}}},
		"cross-site fetch":    {url.Values{}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		"same-site subdomain": {url.Values{}, http.Header{"Sec-Fetch-Site": {"same-site"}}},
	} {
		if resp := u.postForm(drift, tc.form, tc.header); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	// Sign-out and sign-in are state-changing too.
	if resp := u.postForm("/logout", url.Values{"_csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout with a forged token: %d", resp.StatusCode)
	}
	if resp := ab.anonymous().postForm("/login", url.Values{"username": {"admin"}, "password": {testPassword}}, http.Header{"Origin": {"http://evil.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login from a foreign origin: %d", resp.StatusCode)
	}
	// The page's own origin passes.
	if resp := u.postForm(drift, url.Values{}, http.Header{"Origin": {ab.http.URL}, "Sec-Fetch-Site": {"same-origin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d", resp.StatusCode)
	}
}

func TestRevokedAndExpiredTokensAre401(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	tok, secret, err := ab.access.CreateToken(t.Context(), "support", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u := ab.anonymous()
	u.bearer = secret
	get := func() (int, string) {
		resp, body := u.do(http.MethodGet, "/events", nil, http.Header{"Accept": {"text/html"}})
		return resp.StatusCode, body
	}
	if got, _ := get(); got != http.StatusOK {
		t.Fatalf("valid token: %d", got)
	}
	if err := ab.access.RevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	// A bearer client is not a browser: no redirect, even asking for HTML.
	if got, body := get(); got != http.StatusUnauthorized || !strings.Contains(body, "unknown, expired or revoked") {
		t.Fatalf("revoked token: %d", got)
	}
	_, u.bearer, _ = ab.access.CreateToken(t.Context(), "support", time.Hour)
	ab.clock.add(time.Hour + time.Minute)
	if got, _ := get(); got != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", got)
	}
	u.bearer = "auditd_forged"
	if got, _ := get(); got != http.StatusUnauthorized {
		t.Fatalf("forged token: %d", got)
	}
	resp, _ := ab.anonymous().do(http.MethodGet, "/events", nil, http.Header{"Authorization": {"Basic YTpi"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("Basic auth: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// A Host naming neither this machine nor --public-url is refused: the
// DNS-rebinding defence.
func TestForeignHostIs421(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, Config{PublicURL: "https://auditd.example.org"}, access.Options{})
	for host, want := range map[string]int{
		"evil.example":            http.StatusMisdirectedRequest,
		"auditd.example.org.evil": http.StatusMisdirectedRequest,
		"127.0.0.1:8080":          http.StatusOK,
		"localhost":               http.StatusOK,
		"[::1]:8080":              http.StatusOK,
		"auditd.example.org":      http.StatusOK,
		"AUDITD.example.org:443":  http.StatusOK,
		"10.0.0.5":                http.StatusMisdirectedRequest,
		"":                        http.StatusMisdirectedRequest,
		strings.Repeat("x", 300):  http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		ab.server.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %.40q: %d, want %d", host, rec.Code, want)
		}
		if want == http.StatusMisdirectedRequest && !strings.Contains(rec.Body.String(), "https://auditd.example.org") {
			t.Errorf("Host %.40q: the refusal does not say where to go: %.200s", host, rec.Body)
		}
	}
}

func TestAuthOffOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:80", "[::]:80", "auditd.example.org:80"} {
		cfg := Config{Listen: listen, AuthOff: true, PublicURL: "https://auditd.example.org"}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "--auth=off is refused") {
			t.Errorf("auth off on %s: %v", listen, err)
		}
		// New with it serves nothing, Start refuses.
		srv := New(cfg, Deps{})
		if err := srv.Start(t.Context()); err == nil {
			srv.Stop()
			t.Errorf("Start with auth off on %s", listen)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = "127.0.0.1"
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("request to a server with auth off on %s: %d", listen, rec.Code)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:8080", "localhost:8080"} {
		if err := (Config{Listen: listen, AuthOff: true}).Validate(); err != nil {
			t.Errorf("auth off on %s: %v", listen, err)
		}
	}
	if err := (Config{Listen: "0.0.0.0:8080"}).Validate(); err == nil || !strings.Contains(err.Error(), "--public-url is required") {
		t.Errorf("non-loopback without --public-url: %v", err)
	}
	if err := (Config{PublicURL: "https://auditd.example.org/sub"}).Validate(); err == nil {
		t.Error("public URL with a path accepted")
	}
	// With auth off, every page says so in red.
	b := setup(t)
	if b.page("/", http.StatusOK).Find(`[data-testid="auth-off"]`).Length() != 1 {
		t.Error("no auth-off banner")
	}
}

// Static files are cacheable and shared: they carry no cookie.
func TestStaticResponsesSetNoCookie(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	u := ab.signIn("support")
	for _, p := range []string{"/static/app.css", "/static/htmx.min.js", "/healthz"} {
		resp, _ := u.do(http.MethodGet, p, nil, nil)
		if resp.StatusCode != http.StatusOK || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s: %d, Set-Cookie %q", p, resp.StatusCode, resp.Header.Values("Set-Cookie"))
		}
	}
}

// X-Forwarded-For names the client only when a trusted proxy sent it.
func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		trusted []netip.Prefix
		peer    string
		xff     string
		want    string
	}{
		{nil, "127.0.0.1:5000", "203.0.113.9", "127.0.0.1"},
		{nil, "10.1.1.1:5000", "203.0.113.9", "10.1.1.1"},
		{trusted, "10.1.1.1:5000", "203.0.113.9", "203.0.113.9"},
		{trusted, "10.1.1.1:5000", "198.51.100.1, 203.0.113.9, 10.2.2.2", "203.0.113.9"},
		{trusted, "192.0.2.50:5000", "203.0.113.9", "192.0.2.50"},
	} {
		srv := New(Config{TrustedProxies: tc.trusted, AuthOff: true}, Deps{})
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-For", tc.xff)
		if got := srv.echo.NewContext(req, httptest.NewRecorder()).RealIP(); got != tc.want {
			t.Errorf("trusted %v, peer %s, XFF %q: client %s, want %s", tc.trusted, tc.peer, tc.xff, got, tc.want)
		}
	}
}

// The identity is a value in the request's context, for whatever serves
// the request (an access log, masking).
func TestIdentityInRequestContext(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	var got access.Identity
	ab.server.get("/whoami", access.Support, func(c echo.Context) error {
		got = identityOf(c)
		return c.NoContent(http.StatusNoContent)
	})
	u := ab.withToken("compliance")
	resp, _ := u.do(http.MethodGet, "/whoami", nil, http.Header{"User-Agent": {"probe/1"}})
	if resp.StatusCode != http.StatusNoContent || got.User.Name != "compliance" || got.User.Role != access.Compliance ||
		got.Method != "token" || got.ClientAddr != "127.0.0.1" || got.RequestID == "" || got.RequestID != resp.Header.Get("X-Request-Id") || got.UserAgent != "probe/1" {
		t.Fatalf("identity %+v (response %d, request id %q)", got, resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
}
