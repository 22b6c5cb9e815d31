package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// piiConfig is a configuration file declaring personal data: the owner in
// the state and in the payloads that set it, an address and the
// correlation id in every Wallet event's metadata.
const piiConfig = `{"reducers": {}, "pii": {"Wallet": {"state": ["/owner"], "metadata": ["/ip", "/correlation_id"],
	"events": {"WalletOpened": ["/owner"], "OwnerRenamed": {"payload": ["/owner/name"]}}}}}`

// piiSecrets are the stored personal values: no channel may show one.
var piiSecrets = []string{"Zelda", "zq@example.org", "203.0.113.77", "corr-secret-4711", "Yuri"}

func piiPolicy(t *testing.T) *pii.Policy {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(piiConfig), "pii.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pii.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// piiEvents appends a Wallet whose owner is personal data.
func piiEvents(b *bundle) []eventstore.Event {
	return b.append("wallet-p", "Wallet",
		ev("WalletOpened", `{"owner": {"name": "Zelda Quux", "email": "zq@example.org"}, "currency": "EUR"}`,
			`{"actor": "alice", "ip": "203.0.113.77", "correlation_id": "corr-secret-4711"}`),
		ev("MoneyDeposited", `{"amount": 5}`, `{"actor": "alice", "ip": "203.0.113.77"}`),
		ev("OwnerRenamed", `{"owner": {"name": "Yuri Vex"}}`, `{"actor": "bob"}`))
}

// noSecrets fails when body holds a stored personal value, and unless it
// holds the mask.
func noSecrets(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range piiSecrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows the masked value %q: %.800s", what, s, body)
		}
	}
	if !strings.Contains(body, pii.Mask) && !strings.Contains(body, jsonMask) {
		t.Errorf("%s shows no mask: %.800s", what, body)
	}
}

// jsonMask is the mask as JSON escapes it when it escapes non-ASCII.
var jsonMask = strings.Trim(fmt.Sprintf("%+q", pii.Mask), `"`)

func TestPIIIsMaskedInEveryChannel(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *Deps) { d.PII = piiPolicy(t) })
	evs := piiEvents(b)
	opened := evs[0].Position
	get := func(path, accept string, header ...string) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", accept)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		b.server.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s (%s): %d %.500s", path, accept, rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
	const html, js = "text/html", "application/json"
	for _, c := range []struct{ path, accept string }{
		{"/streams/wallet-p", html},
		{"/streams/wallet-p", js},
		{"/streams/wallet-p/state", html},
		{"/streams/wallet-p/state", js},
		{"/streams/wallet-p/state?version=1", js},
		{"/streams/wallet-p/diff?from=v:0&to=v:3", html},
		{"/streams/wallet-p/diff?from=v:0&to=v:3", js},
		{"/streams/wallet-p/diff?from=v:3&to=v:1", js},
		{fmt.Sprintf("/events/%d", opened), html},
		{fmt.Sprintf("/events/%d", opened), js},
		{fmt.Sprintf("/events/%d", evs[2].Position), html},
		{fmt.Sprintf("/events/%d/raw", opened), js},
		{fmt.Sprintf("/events/%d/raw?part=payload", opened), js},
		{fmt.Sprintf("/events/%d/raw?part=metadata", opened), js},
		{"/events", html},
		{"/events", js},
		{"/", html},
		{"/", js},
		{"/streams/wallet-p/fields?path=/owner", html},
		{"/streams/wallet-p/fields?path=/owner", js},
		{"/streams/wallet-p/fields?path=/owner/name", js},
		{"/streams/wallet-p/export.csv", "text/csv"},
		{"/streams/wallet-p/export.json", js},
	} {
		noSecrets(t, c.path+" as "+c.accept, get(c.path, c.accept))
	}
	// Search results hold no value of a masked field either.
	for _, path := range []string{"/streams?type=Wallet", "/streams?q=wallet", "/events?event_type=WalletOpened", "/events?stream_type=Wallet"} {
		for _, accept := range []string{html, js} {
			body := get(path, accept)
			for _, secret := range piiSecrets {
				if strings.Contains(body, secret) {
					t.Errorf("%s as %s shows %q", path, accept, secret)
				}
			}
		}
	}
	// The timeline's state panel (an htmx fragment).
	noSecrets(t, "the state fragment", get("/streams/wallet-p/state", html, "HX-Request", "true"))

	// Blame under a masked object is kept on the object: the JSON names
	// no field inside it.
	state := get("/streams/wallet-p/state", js)
	if strings.Contains(state, `"/owner/name"`) || !strings.Contains(state, `"/owner":{"version":3`) || !strings.Contains(state, `"masked":["/owner"]`) {
		t.Errorf("state blame under the masked owner: %.800s", state)
	}
	// Fields that are not personal data are shown.
	if !strings.Contains(state, `"currency":"EUR"`) || !strings.Contains(get(fmt.Sprintf("/events/%d/raw?part=metadata", opened), js), `"actor":"alice"`) {
		t.Errorf("a field that is not personal data was masked: %s", state)
	}
	// The state page shows the placeholder, accessible, with a reveal
	// form (sign-in is off: the user is admin).
	doc := b.page("/streams/wallet-p/state", 200)
	mask := doc.Find(`[data-testid="state-row"][data-path="/owner"] [data-testid="pii-mask"]`)
	if mask.Length() != 1 || mask.AttrOr("aria-label", "") == "" || doc.Find(`[data-testid="pii-reveal"] input[name="reason"][required]`).Length() != 1 {
		t.Errorf("state page placeholder: %d masks, aria-label %q, reveal forms %d", mask.Length(), mask.AttrOr("aria-label", ""),
			doc.Find(`[data-testid="pii-reveal"]`).Length())
	}
	// The timeline's change lines too.
	doc = b.page("/streams/wallet-p", 200)
	if got := doc.Find(`[data-testid="event-changes"] [data-testid="pii-mask"]`).Length(); got < 3 {
		t.Errorf("timeline: %d placeholders in the change lines, want one per owner field set (3)", got)
	}
	// The diff shows the changed owner as placeholders, without a form.
	doc = b.page("/streams/wallet-p/diff?from=v:0&to=v:3", 200)
	if got := doc.Find(`[data-testid="diff-row"][data-path="/owner/email"] [data-testid="diff-new"] [data-testid="pii-mask"]`).Length(); got != 1 {
		t.Errorf("diff: %d placeholders on /owner/email, want 1", got)
	}
	// The event page lists its masked fields with their placeholders.
	doc = b.page(fmt.Sprintf("/events/%d", opened), 200)
	if got := doc.Find(`[data-testid="pii-list"] [data-testid="pii"]`).Length(); got != 3 {
		t.Errorf("event page: %d masked fields listed, want 3 (payload /owner, metadata /correlation_id and /ip)", got)
	}
	// Its masked correlation id is a placeholder, with no search link.
	if doc.Find(`a[href^="/events?correlation_id="]`).Length() != 0 {
		t.Error("event page links a search by its masked correlation id")
	}
}

func TestPIIMaskedFieldsCannotBeSearched(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *Deps) { d.PII = piiPolicy(t) })
	piiEvents(b)
	for _, path := range []string{
		"/streams?correlation_id=corr-secret-4711",
		"/streams?type=Wallet&correlation_id=corr-secret-4711",
		"/events?correlation_id=corr-secret-4711",
		"/events?stream_type=Wallet&correlation_id=nothing",
	} {
		rec := b.get(path, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "masked") {
			t.Errorf("GET %s: %d %s, want 400 saying the field is masked", path, rec.Code, rec.Body.String())
		}
	}
	// A stream type that does not mask it can be searched by it; so can
	// fields that are not masked.
	for _, path := range []string{"/events?stream_type=Other&correlation_id=x", "/events?actor=alice", "/streams?actor=alice"} {
		if rec := b.get(path, "application/json"); rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}

func TestPIIIsMaskedInTheLiveFeed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	st.server.deps.PII = piiPolicy(t) // before any feed is opened
	htmlFeed := openSSE(t, st.http.URL+"/live/events?stream_id=wallet-live", "")
	jsonFeed := openSSE(t, st.http.URL+"/live/events?stream_id=wallet-live&format=json", "")
	if _, err := eventstore.New(db.Pool).Append(t.Context(), "wallet-live", "Wallet", eventstore.AnyVersion,
		ev("WalletOpened", `{"owner": {"name": "Zelda Quux", "email": "zq@example.org"}}`, `{"ip": "203.0.113.77"}`)); err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the live HTML fragment", htmlFeed.nextEvent(t).Data)
	noSecrets(t, "the live JSON frame", jsonFeed.nextEvent(t).Data)
	// The /live page's newest events come from the same window.
	for _, accept := range []string{"text/html", "application/json"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, st.http.URL+"/live", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "/live as "+accept, readAll(t, resp.Body))
		resp.Body.Close()
	}
}

// A masked actor is masked where auditd shows who did what (event rows,
// blame, changes) and cannot be searched for.
func TestPIIMaskedActor(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(`{"pii": {"Wallet": {"metadata": ["/actor"]}}}`), "pii.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pii.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(d *Deps) { d.PII = p })
	b.append("wallet-a", "Wallet", ev("WalletOpened", `{"currency": "EUR"}`, `{"actor": "Zelda Quux"}`), ev("MoneyDeposited", `{"amount": 5}`, `{"actor": "Zelda Quux"}`))
	for _, path := range []string{"/streams/wallet-a", "/streams/wallet-a/state", "/streams/wallet-a/diff?from=v:0&to=v:2", "/events"} {
		for _, accept := range []string{"text/html", "application/json"} {
			rec := b.get(path, accept)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", path, rec.Code)
			}
			noSecrets(t, path+" as "+accept, rec.Body.String())
		}
	}
	if rec := b.get("/streams?actor=Zelda+Quux", "application/json"); rec.Code != http.StatusBadRequest {
		t.Errorf("search by a masked actor: %d %s", rec.Code, rec.Body)
	}
}

func TestViewsKnowTheMask(t *testing.T) {
	t.Parallel()
	if views.MaskText != pii.Mask {
		t.Fatalf("views.MaskText %q, pii.Mask %q", views.MaskText, pii.Mask)
	}
}

func TestPIIPolicyErrorNamesTheKey(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(`{"pii": {"Wallet": {"state": ["owner"]}}}`), "bad.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pii.Parse(cfg); err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "pii.Wallet.state[0]") {
		t.Fatalf("bad pointer: %v", err)
	}
}

func TestRevealOneValueWithAReasonIsLogged(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	ab.server.deps.PII = piiPolicy(t) // before any request
	evs := piiEvents(ab.bundle)
	opened := evs[0].Position
	compliance := ab.signIn("compliance")
	reveal := func(u *user, form url.Values, header http.Header) (*http.Response, string) {
		t.Helper()
		form.Set("_csrf", u.csrf())
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		for k, v := range header {
			h[k] = v
		}
		return u.do(http.MethodPost, "/streams/wallet-p/reveal", strings.NewReader(form.Encode()), h)
	}
	asJSON := http.Header{"Accept": {"application/json"}}

	// The state's owner at version 3, as JSON.
	resp, body := reveal(compliance, url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"/owner"}, "reason": {"ticket 4711: owner asked"}}, asJSON)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"Yuri Vex"`) || !strings.Contains(body, `"pointer":"/owner"`) ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal the state's owner: %d %s", resp.StatusCode, body)
	}
	// An event's payload field, as the htmx fragment replacing the mask.
	resp, body = reveal(compliance, url.Values{"scope": {"payload"}, "event": {fmt.Sprint(opened)}, "pointer": {"/owner/email"}, "reason": {"chargeback"}},
		http.Header{"HX-Request": {"true"}, "Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="pii-revealed"`) || !strings.Contains(body, "zq@example.org") {
		t.Fatalf("reveal a payload field: %d %s", resp.StatusCode, body)
	}

	// A form posted without htmx (scripts off) gets a page.
	resp, body = reveal(compliance, url.Values{"scope": {"metadata"}, "event": {fmt.Sprint(opened)}, "pointer": {"/ip"}, "reason": {"fraud check"}},
		http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "203.0.113.77") || !strings.Contains(body, "<html") {
		t.Fatalf("reveal without htmx: %d %.500s", resp.StatusCode, body)
	}

	// Refusals: no reason, a field that is not masked, an event of
	// another stream, a bad scope; support and engineer may not reveal.
	other := ab.append("wallet-q", "Wallet", ev("WalletOpened", `{"owner": "Quentin"}`, `{}`))
	for _, c := range []struct {
		form url.Values
		want int
		says string
	}{
		{url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"/owner"}}, 400, "reason is required"},
		{url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"/owner"}, "reason": {"   "}}, 400, "reason is required"},
		{url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"/currency"}, "reason": {"r"}}, 400, "not masked"},
		{url.Values{"scope": {"payload"}, "event": {fmt.Sprint(other[0].Position)}, "pointer": {"/owner"}, "reason": {"r"}}, 404, "not an event of this stream"},
		{url.Values{"scope": {"blame"}, "pointer": {"/owner"}, "reason": {"r"}}, 400, "not state, payload or metadata"},
		{url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"owner"}, "reason": {"r"}}, 400, "not a JSON pointer"},
	} {
		if resp, body := reveal(compliance, c.form, asJSON); resp.StatusCode != c.want || !strings.Contains(body, c.says) {
			t.Errorf("reveal %v: %d %s, want %d saying %q", c.form, resp.StatusCode, body, c.want, c.says)
		}
	}
	for _, name := range []string{"support", "engineer"} {
		resp, body := reveal(ab.signIn(name), url.Values{"scope": {"state"}, "version": {"3"}, "pointer": {"/owner"}, "reason": {"curious"}}, asJSON)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "needs the compliance role") || strings.Contains(body, "Yuri") {
			t.Errorf("%s reveals: %d %s", name, resp.StatusCode, body)
		}
	}

	// Exactly the three reveals are in the access log, with their reason
	// and what was revealed.
	rows, err := ab.db.Pool.Query(t.Context(), `SELECT user_name, role, stream_id, event_key, view_window, reason, filters->>'scope'
		FROM auditd.access_log WHERE kind = 'reveal' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var u, r, s, e, w, reason, scope string
		if err := rows.Scan(&u, &r, &s, &e, &w, &reason, &scope); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{u, r, s, e, w, reason, scope}, "|"))
	}
	rows.Close()
	want := []string{"compliance|compliance|wallet-p||/owner|ticket 4711: owner asked|state",
		fmt.Sprintf("compliance|compliance|wallet-p|%d|/owner/email|chargeback|payload", opened),
		fmt.Sprintf("compliance|compliance|wallet-p|%d|/ip|fraud check|metadata", opened)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reveals logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Support sees the placeholder without a reveal form; compliance with one.
	for name, forms := range map[string]int{"support": 0, "compliance": 1} {
		_, body := ab.signIn(name).do(http.MethodGet, "/streams/wallet-p/state", nil, http.Header{"Accept": {"text/html"}})
		noSecrets(t, "the state page as "+name, body)
		if got := strings.Count(body, `data-testid="pii-reveal"`); got != forms {
			t.Errorf("state page as %s: %d reveal forms, want %d", name, got, forms)
		}
	}
}

// Drift compares the read model with the state field by field: a masked
// field's values are masked on both sides, its difference still listed.
func TestPIIIsMaskedInDriftChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *Deps) {
		if _, err := d.Pool.Exec(t.Context(), `CREATE TABLE wallet_owners (wallet_id text PRIMARY KEY, owner text, currency text)`); err != nil {
			t.Fatal(err)
		}
		startDrift(t, d, `{"reducers": {}, "drift": {"wallet_owners": {"stream_type": "Wallet", "table": "wallet_owners", "key_column": "wallet_id",
			"fields": {"/owner": "owner", "/currency": "currency"}}}}`)
		d.PII = piiPolicy(t)
	})
	b.append("wallet-d", "Wallet", ev("WalletOpened", `{"owner": "Zelda Quux", "currency": "EUR"}`, `{}`))
	b.exec(`INSERT INTO wallet_owners VALUES ('wallet-d', 'Yuri Vex', 'USD')`)
	b.exec(`INSERT INTO projection_checkpoints (projection, position) VALUES ('wallet_owners', 1)`)
	for _, accept := range []string{"text/html", "application/json"} {
		rec := b.get("/projections/wallet_owners/drift", accept)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "USD") {
			t.Fatalf("drift as %s: %d %.500s", accept, rec.Code, body)
		}
		noSecrets(t, "the drift page as "+accept, body)
	}
	// "Check all" keeps its results: masked when shown.
	id, err := b.server.deps.Drift.StartJob("wallet_owners")
	if err != nil {
		t.Fatal(err)
	}
	u := "/projections/wallet_owners/drift/jobs/" + id
	if job := waitJobHTTP(t, b, u); len(job.Drifted) != 1 {
		t.Fatalf("job %+v", job)
	}
	for _, accept := range []string{"text/html", "application/json"} {
		noSecrets(t, "the drift job as "+accept, b.get(u, accept).Body.String())
	}
}

// A fold error quoting a value (a masked payload field read by a rule)
// keeps its shape, not the value.
func TestPIIFoldErrorsDoNotQuoteValues(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(`{"reducers": {"Wallet": {"Tipped": [{"op": "inc", "path": "/balance", "from": "/amount"}]}},
		"pii": {"Wallet": {"events": {"Tipped": ["/amount"]}}}}`), "pii.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pii.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(d *Deps) {
		d.PII = p
		d.TimeTravel = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: -1})
	})
	b.append("wallet-f", "Wallet", ev("Tipped", `{"amount": "Zelda Quux"}`, `{}`))
	for _, path := range []string{"/streams/wallet-f", "/streams/wallet-f/state"} {
		for _, accept := range []string{"text/html", "application/json"} {
			body := b.get(path, accept).Body.String()
			noSecrets(t, path+" as "+accept, body)
			if !strings.Contains(body, "is not a decimal number") {
				t.Errorf("%s as %s: the fold error is gone: %.600s", path, accept, body)
			}
		}
	}
}

// The export's balance column folds the stored values (a rule reading a
// masked payload field still adds up) and masks a masked field's value.
func TestPIIExportBalanceColumn(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(`{"reducers": {"Wallet": {"Tipped": [{"op": "inc", "path": "/balance", "from": "/amount"}]}},
		"pii": {"Wallet": {"state": ["/owner"], "events": {"Tipped": ["/amount"], "WalletOpened": ["/owner"]}}}}`), "pii.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pii.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(d *Deps) {
		d.PII = p
		d.TimeTravel = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: -1})
	})
	b.append("wallet-x", "Wallet", ev("WalletOpened", `{"owner": "Zelda Quux"}`, `{}`), ev("Tipped", `{"amount": 7}`, `{}`), ev("Tipped", `{"amount": 5}`, `{}`))
	body := b.get("/streams/wallet-x/export.csv?balance=/balance", "text/csv").Body.String()
	if !strings.Contains(body, `,"7"`) || !strings.Contains(body, `,"12"`) {
		t.Errorf("balance column does not add up the stored amounts: %s", body)
	}
	noSecrets(t, "the export with a balance column", body)
	noSecrets(t, "the export with the owner as its column", b.get("/streams/wallet-x/export.csv?balance=/owner", "text/csv").Body.String())
}

// A projection's page lists the events it has yet to process: masked.
func TestPIIIsMaskedInAProjectionsPendingEvents(t *testing.T) {
	t.Parallel()
	b, _ := projSetup(t, time.Now())
	b.server.deps.PII = piiPolicy(t) // before any request
	piiEvents(b)
	for _, accept := range []string{"text/html", "application/json"} {
		rec := b.get("/projections/wallet_balances", accept)
		if rec.Code != http.StatusOK {
			t.Fatalf("projection page: %d", rec.Code)
		}
		noSecrets(t, "the projection page as "+accept, rec.Body.String())
	}
}
