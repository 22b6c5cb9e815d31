package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/pgtest"
)

// loggedView is an access log row as the tests compare it.
type loggedView struct {
	Kind, User, Role, Stream, Event, Window, Filters, Case, RequestID, Client, UserAgent string
}

// accessEntries reads the access log, oldest first.
func accessEntries(t *testing.T, db *pgtest.DB) []loggedView {
	t.Helper()
	rows, err := db.Pool.Query(t.Context(), `
		SELECT kind, user_name, role, stream_id, event_key, view_window, filters::text, case_ref, request_id, client_addr, user_agent
		FROM auditd.access_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []loggedView
	for rows.Next() {
		var v loggedView
		if err := rows.Scan(&v.Kind, &v.User, &v.Role, &v.Stream, &v.Event, &v.Window, &v.Filters, &v.Case, &v.RequestID, &v.Client, &v.UserAgent); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A timeline view is in the access log by the time its response arrives,
// with who (user, role), what (stream, versions shown, filters) and from
// where (request id, client address, user agent), and nothing secret.
func TestTimelineViewIsRecordedBeforeTheResponse(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 12, tlT0)
	u := ab.signIn("support")
	resp, body := u.do(http.MethodGet, "/streams/counter-1?after=2&limit=5", nil, http.Header{"User-Agent": {"probe/1"}, "Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "counter-1") {
		t.Fatalf("timeline: %d", resp.StatusCode)
	}
	got := accessEntries(t, ab.db)
	want := loggedView{Kind: "stream", User: "support", Role: "support", Stream: "counter-1", Window: "v:3..v:7",
		Filters: `{"after": "2", "limit": "5"}`, RequestID: resp.Header.Get("X-Request-Id"), Client: "127.0.0.1", UserAgent: "probe/1"}
	if len(got) != 1 || got[0] != want || want.RequestID == "" {
		t.Fatalf("access log %+v, want [%+v]", got, want)
	}

	// A token's JSON view is recorded too; neither the token nor the
	// session cookie nor the password is in any entry.
	tu := ab.withToken("compliance")
	if resp, _ := tu.do(http.MethodGet, "/streams/counter-1?format=json", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("timeline JSON: %d", resp.StatusCode)
	}
	got = accessEntries(t, ab.db)
	if len(got) != 2 || got[1].User != "compliance" || got[1].Role != "compliance" || got[1].Window != "v:1..v:12" {
		t.Fatalf("access log %+v", got)
	}
	var all strings.Builder
	for _, e := range got {
		all.WriteString(strings.Join([]string{e.Kind, e.User, e.Role, e.Stream, e.Event, e.Window, e.Filters, e.Case, e.RequestID, e.Client, e.UserAgent}, "|"))
	}
	base, _ := url.Parse(u.base)
	for _, c := range u.client.Jar.Cookies(base) {
		if strings.Contains(all.String(), c.Value) {
			t.Errorf("cookie %s is in the access log", c.Name)
		}
	}
	if strings.Contains(all.String(), tu.bearer) || strings.Contains(all.String(), testPassword) {
		t.Error("a token or a password is in the access log")
	}
}

// A view whose entry cannot be written is not answered: 503 with a clear
// message, and none of the stream's data.
func TestViewRefusedWhenTheAccessLogCannotBeWritten(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 3, tlT0)
	if _, err := ab.db.Pool.Exec(t.Context(), `
		CREATE FUNCTION refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END; $$;
		CREATE TRIGGER refuse BEFORE INSERT ON auditd.access_log FOR EACH ROW EXECUTE FUNCTION refuse_entry();`); err != nil {
		t.Fatal(err)
	}
	u := ab.signIn("support")
	resp, body := u.do(http.MethodGet, "/streams/counter-1", nil, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "access log") || strings.Contains(body, "agent:m.okafor") {
		t.Fatalf("%d: %s", resp.StatusCode, body)
	}
}

// setCase sets the session's case reference through the header's form.
func (u *user) setCase(ref, next string) *http.Response {
	u.t.Helper()
	return u.postForm("/session/case", url.Values{"case_ref": {ref}, "next": {next}}, nil)
}

// Each kind of view is recorded with the user, role, stream, window and
// the session's case reference: timeline, state (at a version, at a
// time), diff, event page and raw event, both exports, a field's
// history, stream and event searches.
func TestEveryKindOfViewIsRecorded(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 5, tlT0)
	var pos int64
	if err := ab.db.Pool.QueryRow(t.Context(), `SELECT position FROM events WHERE stream_id = 'counter-1' AND version = 4`).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	u := ab.signIn("compliance")
	if resp := u.setCase("ticket 4711", "/streams/counter-1"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/streams/counter-1" {
		t.Fatalf("set case: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	at := tlT0.Add(3 * time.Hour).Format(time.RFC3339)
	views := []struct {
		path string
		want loggedView
	}{
		{"/streams/counter-1", loggedView{Kind: "stream", Window: "v:1..v:5"}},
		{"/streams/counter-1/state?version=2", loggedView{Kind: "state", Window: "v:2", Filters: `{"version": "2"}`}},
		{"/streams/counter-1/state?at=" + url.QueryEscape(at), loggedView{Kind: "state", Window: "at " + at + " (v:3)", Filters: `{"at": "` + at + `"}`}},
		{"/streams/counter-1/diff?from=v:1&to=v:3", loggedView{Kind: "diff", Window: "v:1..v:3", Filters: `{"to": "v:3", "from": "v:1"}`}},
		{fmt.Sprintf("/events/%d", pos), loggedView{Kind: "event", Event: fmt.Sprint(pos), Window: "v:4..v:4"}},
		{fmt.Sprintf("/events/%d/raw?part=payload", pos), loggedView{Kind: "event", Event: fmt.Sprint(pos), Window: "v:4..v:4", Filters: `{"part": "payload"}`}},
		{"/streams/counter-1/export.csv", loggedView{Kind: "export", Filters: `{"format": "csv"}`}},
		{"/streams/counter-1/export.json?to=" + url.QueryEscape(at), loggedView{Kind: "export", Window: ".." + at, Filters: `{"to": "` + at + `", "format": "json"}`}},
		{"/streams/counter-1/fields?path=/balance", loggedView{Kind: "fields", Window: "v:1..v:5", Filters: `{"path": "/balance"}`}},
		{"/streams?q=counter&actor=agent:m.okafor", loggedView{Kind: "search", Filters: `{"q": "counter", "in": "/streams", "actor": "agent:m.okafor"}`}},
		{"/events?correlation_id=c-2", loggedView{Kind: "search", Filters: `{"in": "/events", "correlation_id": "c-2"}`}},
	}
	for i, v := range views {
		resp, _ := u.do(http.MethodGet, v.path, nil, http.Header{"Accept": {"text/html"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", v.path, resp.StatusCode)
		}
		// The entry is there when the response has arrived.
		got := accessEntries(t, ab.db)
		if len(got) != i+1 {
			t.Fatalf("%s: %d entries after %d views", v.path, len(got), i+1)
		}
		e, want := got[i], v.want
		want.User, want.Role, want.Case, want.Client = "compliance", "compliance", "ticket 4711", "127.0.0.1"
		if want.Kind != "search" {
			want.Stream = "counter-1"
		}
		if want.Filters == "" {
			want.Filters = "{}"
		}
		want.RequestID, want.UserAgent = e.RequestID, e.UserAgent
		if e != want || e.RequestID != resp.Header.Get("X-Request-Id") {
			t.Errorf("%s: entry %+v, want %+v", v.path, e, want)
		}
	}

	// Clearing the case: later entries have none.
	u.setCase("", "/")
	u.do(http.MethodGet, "/streams/counter-1", nil, nil)
	if got := accessEntries(t, ab.db); got[len(got)-1].Case != "" {
		t.Fatalf("case after clearing: %q", got[len(got)-1].Case)
	}
}

// Verifying a stream is recorded; with sign-in off, as the auth-off user.
func TestVerifyIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *Deps) { d.Ledger = ledger.NewStore(d.Pool) })
	seedCounter(b, "counter-1", 3, tlT0)
	if rec := b.get("/streams/counter-1/verify", "application/json"); rec.Code != http.StatusOK {
		t.Fatalf("verify: %d %s", rec.Code, rec.Body)
	}
	got := accessEntries(t, b.db)
	if len(got) != 1 || got[0].Kind != "verify" || got[0].User != "auth-off" || got[0].Role != "admin" || got[0].Stream != "counter-1" || got[0].Window != "v:1..v:3" {
		t.Fatalf("access log %+v", got)
	}
}

// An evidence bundle is recorded with the window it covers.
func TestEvidenceIsRecorded(t *testing.T) {
	t.Parallel()
	db, st := evidenceStack(t)
	if code, body := getBody(t, st.http.URL+"/streams/acct/evidence?from=v:2&to=v:7"); code != http.StatusOK {
		t.Fatalf("evidence: %d %.300s", code, body)
	}
	got := accessEntries(t, db)
	if len(got) != 1 || got[0].Kind != "evidence" || got[0].Stream != "acct" || got[0].Window != "v:2..v:7" || got[0].Filters != `{"to": "v:7", "from": "v:2"}` {
		t.Fatalf("access log %+v", got)
	}
}

// A bad case reference is refused with a 400 naming it.
func TestCaseReferenceBadInput(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	u := ab.signIn("support")
	for _, ref := range []string{strings.Repeat("x", access.MaxCaseRef+1), "ticket\n4711", "tab\there"} {
		if resp := u.setCase(ref, "/"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("case %q: %d", ref, resp.StatusCode)
		}
	}
	tu := ab.withToken("support")
	seedCounter(ab.bundle, "counter-1", 1, tlT0)
	resp, body := tu.do(http.MethodGet, "/streams/counter-1", nil, http.Header{"X-Case-Ref": {strings.Repeat("y", 500)}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "X-Case-Ref") {
		t.Fatalf("long X-Case-Ref: %d %s", resp.StatusCode, body)
	}
}

// /access-log: compliance reads who saw what, newest first, filtered by
// user, stream, case, kind and time, a keyset page at a time, as HTML,
// JSON and CSV; reading it is recorded too.
func TestAccessLogFiltersPagesAndCSV(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	ctx := t.Context()
	rec := func(user string, role access.Role, kind, stream, caseRef string) {
		t.Helper()
		if err := ab.access.RecordAccess(ctx, access.AccessEntry{Kind: kind, UserName: user, Role: role, StreamID: stream, CaseRef: caseRef,
			Window: "v:1..v:2", UserAgent: "=cmd|' /C calc'!A0"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		rec("support", access.Support, "stream", fmt.Sprintf("wallet-%d", i), "")
	}
	rec("engineer", access.Engineer, "state", "wallet-1", "ticket 4711")
	rec("compliance", access.Compliance, "export", "wallet-1", "ticket 4711")
	var mid time.Time
	if err := ab.db.Pool.QueryRow(ctx, `SELECT max(at) FROM auditd.access_log`).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	rec("admin", access.Admin, "diff", "wallet-2", "ticket 9")

	u := ab.signIn("compliance")
	type page struct {
		Entries []struct {
			ID      int64  `json:"id"`
			User    string `json:"user"`
			Kind    string `json:"kind"`
			Stream  string `json:"stream_id"`
			CaseRef string `json:"case_ref"`
		} `json:"entries"`
		Next *string `json:"next"`
	}
	getJSON := func(path string) page {
		t.Helper()
		resp, body := u.do(http.MethodGet, path, nil, http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	users := func(p page) string {
		var out []string
		for _, e := range p.Entries {
			out = append(out, e.User+":"+e.Kind+":"+e.Stream)
		}
		return strings.Join(out, ",")
	}
	cases := []struct{ query, want string }{
		{"?stream=wallet-1", "compliance:export:wallet-1,engineer:state:wallet-1,support:stream:wallet-1"},
		{"?case=" + url.QueryEscape("ticket 4711"), "compliance:export:wallet-1,engineer:state:wallet-1"},
		{"?user=support&stream=wallet-3", "support:stream:wallet-3"},
		{"?kind=diff", "admin:diff:wallet-2"},
		{"?from=" + url.QueryEscape(mid.Add(time.Microsecond).Format(time.RFC3339Nano)) + "&kind=diff", "admin:diff:wallet-2"},
		{"?to=" + url.QueryEscape(mid.Format(time.RFC3339Nano)) + "&stream=wallet-1", "engineer:state:wallet-1,support:stream:wallet-1"},
		{"?user=nobody", ""},
	}
	for _, tc := range cases {
		if got := users(getJSON("/access-log" + tc.query)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.query, got, tc.want)
		}
	}

	// Keyset pages: newest first, nothing twice, nothing left out. The
	// log's own views (kind access-log) are entries too; filter them out.
	var seen []string
	p := getJSON("/access-log?user=support&limit=2")
	for pages := 1; ; pages++ {
		if len(p.Entries) > 2 || pages > 5 {
			t.Fatalf("page %d: %d entries", pages, len(p.Entries))
		}
		for _, e := range p.Entries {
			seen = append(seen, e.Stream)
		}
		if p.Next == nil {
			break
		}
		p = getJSON("/access-log?user=support&limit=2&after=" + url.QueryEscape(*p.Next))
	}
	if strings.Join(seen, ",") != "wallet-4,wallet-3,wallet-2,wallet-1,wallet-0" {
		t.Fatalf("pages: %v", seen)
	}

	// Reading the log is in the log, with its filters.
	got := getJSON("/access-log?kind=access-log&user=compliance&limit=1")
	if len(got.Entries) != 1 || got.Entries[0].Kind != "access-log" {
		t.Fatalf("the log's own view: %+v", got)
	}

	// HTML: a row per entry, the filter form filled in, a CSV link.
	doc := pageOf(t, u, "/access-log?stream=wallet-2&user=admin")
	if n := doc.Find(`[data-testid=access-entry][data-user=admin][data-kind=diff]`).Length(); n != 1 {
		t.Errorf("HTML rows: %d", n)
	}
	if v, _ := doc.Find(`[data-testid=access-log-filters] input[name=stream]`).Attr("value"); v != "wallet-2" {
		t.Errorf("stream filter shows %q", v)
	}
	csvURL, _ := doc.Find(`[data-testid=access-log-csv]`).Attr("href")

	// CSV: every matching entry, quoted, formulas neutralised.
	resp, body := u.do(http.MethodGet, csvURL, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "access-log.csv") {
		t.Fatalf("CSV %s: %d %s", csvURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][2] != "user" || rows[1][2] != "admin" || rows[1][4] != "diff" || rows[1][5] != "wallet-2" ||
		rows[1][10] != "ticket 9" || !strings.HasPrefix(rows[1][13], "'=") {
		t.Fatalf("CSV rows %q", rows)
	}
	if resp, _ := u.do(http.MethodGet, "/access-log?format=csv&kind=stream", nil, nil); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("?format=csv: %s", resp.Header.Get("Content-Type"))
	}

	// Bad filters are 400s naming them.
	for q, param := range map[string]string{"?kind=peek": "kind", "?after=nonsense": "after", "?after=999999999999999999.1": "after", "?from=yesterday": "from", "?limit=5000": "limit"} {
		resp, body := u.do(http.MethodGet, "/access-log"+q, nil, http.Header{"Accept": {"application/json"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, param) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// pageOf fetches an HTML page as u and parses it.
func pageOf(t *testing.T, u *user, path string) *goquery.Document {
	t.Helper()
	resp, body := u.do(http.MethodGet, path, nil, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %.300s", path, resp.StatusCode, body)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// On a stream's timeline compliance and admin see who else viewed it and
// when; support and engineer do not.
func TestWhoElseViewedIsShownToComplianceOnly(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 3, tlT0)
	seedCounter(ab.bundle, "counter-2", 3, tlT0)
	support, engineer := ab.signIn("support"), ab.signIn("engineer")
	pageOf(t, support, "/streams/counter-1")
	pageOf(t, engineer, "/streams/counter-1/state")
	pageOf(t, engineer, "/streams/counter-2")

	for _, c := range []struct{ name, want string }{{"compliance", "engineer,support"}, {"admin", "compliance,engineer,support"}} {
		name, want := c.name, c.want
		doc := pageOf(t, ab.signIn(name), "/streams/counter-1")
		var viewers []string
		doc.Find(`[data-testid=stream-viewers] [data-testid=stream-viewer] a`).Each(func(_ int, s *goquery.Selection) {
			viewers = append(viewers, s.Text())
		})
		// The latest first; not the reader, who knows.
		if strings.Join(viewers, ",") != want || doc.Find(`[data-testid=stream-viewer] time`).Length() != len(viewers) {
			t.Errorf("%s sees viewers %v", name, viewers)
		}
	}
	for _, u := range []*user{support, engineer} {
		if doc := pageOf(t, u, "/streams/counter-1"); doc.Find(`[data-testid=stream-viewers]`).Length() != 0 {
			t.Error("a role below compliance sees who else viewed the stream")
		}
	}
	// Support and engineer cannot read the log either.
	if resp, _ := support.do(http.MethodGet, "/access-log", nil, http.Header{"Accept": {"application/json"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support on /access-log: %d", resp.StatusCode)
	}
}

// With a case required, a recorded view without one is a page that asks
// for it (428, the header's form returning to the page), not a 500; once
// set, the page is shown and recorded with it. A token sends X-Case-Ref.
func TestRequireCaseAsksForACaseFirst(t *testing.T) {
	t.Parallel()
	cfg := authConfig
	cfg.RequireCase = true
	ab := authSetup(t, cfg, access.Options{})
	seedCounter(ab.bundle, "counter-1", 3, tlT0)
	u := ab.signIn("support")
	resp, body := u.do(http.MethodGet, "/streams/counter-1?version=2", nil, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusPreconditionRequired {
		t.Fatalf("without a case: %d", resp.StatusCode)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	if msg := doc.Find(`[data-testid=error-message]`).Text(); !strings.Contains(msg, "case reference") {
		t.Errorf("message %q", msg)
	}
	if next, _ := doc.Find(`[data-testid=case-form] input[name=next]`).Attr("value"); next != "/streams/counter-1?version=2" {
		t.Errorf("the case form returns to %q", next)
	}
	if strings.Contains(body, "agent:m.okafor") || len(accessEntries(t, ab.db)) != 0 {
		t.Error("the stream was shown or recorded without a case")
	}
	// Pages that record nothing are not asked.
	if resp, _ := u.do(http.MethodGet, "/", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the overview without a case: %d", resp.StatusCode)
	}
	resp = u.setCase("ticket 4711", "/streams/counter-1?version=2")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/streams/counter-1?version=2" {
		t.Fatalf("set case: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	doc = pageOf(t, u, "/streams/counter-1?version=2")
	if v, _ := doc.Find(`[data-testid=case-input]`).Attr("value"); v != "ticket 4711" {
		t.Errorf("the header shows case %q", v)
	}
	if got := accessEntries(t, ab.db); len(got) != 1 || got[0].Case != "ticket 4711" {
		t.Fatalf("entries %+v", got)
	}

	tu := ab.withToken("support")
	resp, body = tu.do(http.MethodGet, "/streams/counter-1", nil, nil)
	if resp.StatusCode != http.StatusPreconditionRequired || !strings.Contains(body, "X-Case-Ref") {
		t.Fatalf("token without a case: %d %s", resp.StatusCode, body)
	}
	if resp, _ := tu.do(http.MethodGet, "/streams/counter-1", nil, http.Header{"X-Case-Ref": {"ticket 12"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("token with X-Case-Ref: %d", resp.StatusCode)
	}
	if got := accessEntries(t, ab.db); len(got) != 2 || got[1].Case != "ticket 12" {
		t.Fatalf("entries %+v", got)
	}
}
