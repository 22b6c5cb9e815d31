package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/auditd/auditd/internal/access"
)

// opUsers is the OpenID Provider's user directory, with each user's role
// claim (which a test may change between sign-ins).
type opUsers struct {
	mu    sync.Mutex
	users map[string]*storage.User // by id
	roles map[string]any           // by id: the auditd_role claim
}

func (u *opUsers) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.users[id]
}
func (u *opUsers) GetUserByUsername(name string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.users {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u *opUsers) ExampleClientID() string { return "service" }
func (u *opUsers) role(id string) any      { u.mu.Lock(); defer u.mu.Unlock(); return u.roles[id] }
func (u *opUsers) setRole(id string, r any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.roles[id] = r
}

// roleClaims is the example provider's storage, configured to add the
// auditd_role claim to the ID token and the userinfo, as an
// administrator configures a claim at a real provider.
type roleClaims struct {
	*storage.Storage
	users *opUsers
}

func (s roleClaims) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	if r := s.users.role(token.GetSubject()); r != nil {
		ui.AppendClaims("auditd_role", r)
	}
	return nil
}

func (s roleClaims) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if r := s.users.role(ui.Subject); r != nil {
		ui.AppendClaims("auditd_role", r)
	}
	return nil
}

// oidcBundle is auditd with sign-in on and single sign-on through the
// zitadel example OpenID Provider, both listening in the test process.
type oidcBundle struct {
	*authBundle
	users *opUsers
}

func oidcSetup(t *testing.T) *oidcBundle {
	t.Helper()
	ab := authSetup(t, authConfig, access.Options{})
	// auditd's listener first: its callback URL is the client's redirect URI.
	app := httptest.NewUnstartedServer(nil)
	appURL := "http://" + app.Listener.Addr().String()
	callback := appURL + "/login/oidc/callback"

	users := &opUsers{users: map[string]*storage.User{}, roles: map[string]any{}}
	for _, u := range []struct{ id, name string }{{"u1", "eve"}, {"u2", "mallory"}, {"u3", "admin"}} {
		users.users[u.id] = &storage.User{ID: u.id, Username: u.name, Password: "op password", Email: u.name + "@example.org", EmailVerified: true, FirstName: u.name}
	}
	opSrv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + opSrv.Listener.Addr().String() + "/"
	st := roleClaims{storage.NewStorageWithClients(users, map[string]*storage.Client{"auditd": storage.WebClient("auditd", "client secret", callback)}), users}
	// The example provider needs a logger, and makes it the process's
	// default: a silent one.
	opSrv.Config.Handler = exampleop.SetupServer(issuer, st, slog.New(slog.DiscardHandler), false)
	opSrv.Start()
	t.Cleanup(opSrv.Close)

	rp, err := access.NewOIDC(t.Context(), access.OIDCConfig{Issuer: issuer, ClientID: "auditd", ClientSecret: "client secret", RoleClaim: "auditd_role", RedirectURL: callback})
	if err != nil {
		t.Fatal(err)
	}
	deps := ab.server.deps
	deps.OIDC = rp
	ab.server = New(authConfig, deps)
	app.Config.Handler = ab.server.Handler()
	app.Start()
	t.Cleanup(app.Close)
	ab.http = app
	return &oidcBundle{authBundle: ab, users: users}
}

// ssoSignIn follows the whole flow in a browser-like client: auditd's
// sign-in page → the provider's login form → back to auditd's callback →
// next. It returns the client and the last response.
func (ob *oidcBundle) ssoSignIn(name, next string) (*http.Client, *http.Response, string) {
	t := ob.t
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(ob.http.URL + "/login?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	href, ok := doc.Find(`[data-testid="sso"]`).Attr("href")
	if !ok {
		t.Fatal("the sign-in page has no single sign-on link")
	}
	resp, err = client.Get(ob.http.URL + href)
	if err != nil {
		t.Fatal(err)
	}
	// The provider's own login form.
	doc, _ = goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	id, _ := doc.Find(`input[name="id"]`).Attr("value")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("provider login form: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	opLogin := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = client.PostForm(opLogin.String(), url.Values{"id": {id}, "username": {name}, "password": {"op password"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := goquery.NewDocumentFromReader(resp.Body)
	return client, resp, b.Text()
}

func TestSingleSignOnThroughAnOpenIDProvider(t *testing.T) {
	t.Parallel()
	ob := oidcSetup(t)
	ob.users.setRole("u1", "engineer")
	client, resp, _ := ob.ssoSignIn("eve", "/projections")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/projections" || resp.Request.URL.Host != strings.TrimPrefix(ob.http.URL, "http://") {
		t.Fatalf("after single sign-on: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The provider's role applies: engineer, not compliance.
	get := func(c *http.Client, path string) int {
		req, _ := http.NewRequest(http.MethodGet, ob.http.URL+path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(client, "/projections"); got != http.StatusOK {
		t.Errorf("engineer on /projections: %d", got)
	}
	if got := get(client, "/streams/x/export.json"); got != http.StatusForbidden {
		t.Errorf("engineer on an export: %d", got)
	}
	users, err := ob.access.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var eve *access.User
	for i := range users {
		if users[i].Name == "eve" {
			eve = &users[i]
		}
	}
	if eve == nil || eve.Role != access.Engineer {
		t.Fatalf("the provider's user in auditd: %+v", users)
	}

	// The role is the provider's at each sign-in: a list, highest counts.
	ob.users.setRole("u1", []string{"support", "compliance", "unrelated-group"})
	client, _, _ = ob.ssoSignIn("eve", "/")
	if got := get(client, "/streams/x/export.json"); got == http.StatusForbidden || got == http.StatusUnauthorized {
		t.Errorf("compliance after the provider's change: %d", got)
	}

	// No role claim: refused, and told why.
	_, resp, body := ob.ssoSignIn("mallory", "/")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "no auditd role") {
		t.Errorf("user without a role: %d %.200s", resp.StatusCode, body)
	}
	// A provider's user cannot take a local user's name.
	ob.users.setRole("u3", "admin")
	_, resp, body = ob.ssoSignIn("admin", "/")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "local user") {
		t.Errorf("provider user named like a local one: %d %.200s", resp.StatusCode, body)
	}
	// Disabled in auditd: refused although the provider signs it in.
	if err := ob.access.DisableUser(t.Context(), "eve"); err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := ob.ssoSignIn("eve", "/"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("disabled provider user: %d", resp.StatusCode)
	}
}

// A callback that this browser did not start (no cookie, or another
// state) is refused: a login CSRF cannot sign a victim in as the attacker.
func TestSingleSignOnCallbackNeedsItsState(t *testing.T) {
	t.Parallel()
	ob := oidcSetup(t)
	u := ob.anonymous()
	if resp, _ := u.do(http.MethodGet, "/login/oidc/callback?code=x&state=y", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without a started sign-in: %d", resp.StatusCode)
	}
	resp, _ := u.do(http.MethodGet, "/login/oidc?next=/events", nil, nil)
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "code_challenge=") || !strings.Contains(resp.Header.Get("Location"), "nonce=") {
		t.Fatalf("start: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := u.do(http.MethodGet, "/login/oidc/callback?code=x&state=forged", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback with another state: %d", resp.StatusCode)
	}
}
