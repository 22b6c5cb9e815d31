package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
)

// ttRules are the wallet reducers of the time-travel page tests.
const ttRules = `{"reducers":{"Wallet":{
	"WalletOpened":[{"op":"set","path":"/owner","from":"/owner"},{"op":"set","path":"/balance","value":0},{"op":"set","path":"/tags","value":[]}],
	"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"}],
	"Tagged":[{"op":"append","path":"/tags","from":"/tag"}]}}}`

var ttT0 = time.Date(2025, 5, 16, 2, 0, 0, 0, time.UTC)

// ttSetup is a bundle whose server folds with ttRules, snapshotting every
// 10 versions.
func ttSetup(t *testing.T) (*bundle, *timetravel.Service) {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(ttRules), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	var svc *timetravel.Service
	b := setup(t, func(d *Deps) {
		svc = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: 10})
		d.TimeTravel = svc
	})
	return b, svc
}

// seedTTWallet appends wallet-1: opened by ann at ttT0+1min, then deposits
// of 10, 20, 30… one minute apart by agent-<v>, n events in all.
func seedTTWallet(b *bundle, n int) []eventstore.Event {
	b.t.Helper()
	evs := []eventstore.NewEvent{{EventType: "WalletOpened", Payload: json.RawMessage(`{"owner":"ann"}`),
		Metadata: json.RawMessage(`{"actor":"ann","source":"signup"}`), RecordedAt: ttT0.Add(time.Minute)}}
	for v := 2; v <= n; v++ {
		evs = append(evs, eventstore.NewEvent{EventType: "MoneyDeposited",
			Payload:    json.RawMessage(fmt.Sprintf(`{"amount":%d}`, (v-1)*10)),
			Metadata:   json.RawMessage(fmt.Sprintf(`{"actor":"agent-%d"}`, v)),
			RecordedAt: ttT0.Add(time.Duration(v) * time.Minute)})
	}
	return b.append("wallet-1", "Wallet", evs...)
}

// getJSONInto fetches path as JSON into v, failing unless the status is 200.
func (b *bundle) getJSONInto(path string, v any) {
	b.t.Helper()
	rec := b.get(path, "application/json")
	if rec.Code != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		b.t.Fatalf("GET %s: %v in %s", path, err, rec.Body.String())
	}
}

type stateResponse struct {
	StreamID         string         `json:"stream_id"`
	StreamType       string         `json:"stream_type"`
	Version          int            `json:"version"`
	HeadVersion      int            `json:"head_version"`
	At               *time.Time     `json:"at"`
	EventAt          *time.Time     `json:"event_at"`
	BeforeFirstEvent bool           `json:"before_first_event"`
	State            map[string]any `json:"state"`
	Blame            map[string]struct {
		Version    int       `json:"version"`
		EventType  string    `json:"event_type"`
		RecordedAt time.Time `json:"recorded_at"`
		Actor      string    `json:"actor"`
		Position   int64     `json:"position"`
	} `json:"blame"`
	Errors []timetravel.FoldError `json:"errors"`
	Notice string                 `json:"notice"`
}

func TestStateJSON(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	evs := seedTTWallet(b, 5) // balance after v: 10+20+…+(v-1)*10

	var got stateResponse
	b.getJSONInto("/streams/wallet-1/state?version=3", &got)
	if got.StreamID != "wallet-1" || got.StreamType != "Wallet" || got.Version != 3 || got.HeadVersion != 5 || got.BeforeFirstEvent {
		t.Errorf("header = %+v", got)
	}
	if fmt.Sprint(got.State["balance"]) != "30" || got.State["owner"] != "ann" {
		t.Errorf("state = %v", got.State)
	}
	bl := got.Blame["/balance"]
	if bl.Version != 3 || bl.EventType != "MoneyDeposited" || bl.Actor != "agent-3" || !bl.RecordedAt.Equal(ttT0.Add(3*time.Minute)) || bl.Position != evs[2].Position {
		t.Errorf("blame of /balance = %+v", bl)
	}
	if o := got.Blame["/owner"]; o.Version != 1 || o.Actor != "ann" || o.EventType != "WalletOpened" {
		t.Errorf("blame of /owner = %+v", o)
	}
	if _, ok := got.Blame["/tags"]; !ok || len(got.Blame) != 3 {
		t.Errorf("blame keys = %v (an empty array is a leaf too)", got.Blame)
	}
	if got.At == nil || !got.At.Equal(ttT0.Add(3*time.Minute)) || got.Errors == nil || len(got.Errors) != 0 {
		t.Errorf("at = %v, errors = %#v", got.At, got.Errors)
	}

	// A time between two events, in another zone: the state after the
	// earlier one; "at" echoes the moment asked for.
	got = stateResponse{}
	b.getJSONInto("/streams/wallet-1/state?at=2025-05-16T04:04:30%2B02:00", &got)
	if got.Version != 4 || fmt.Sprint(got.State["balance"]) != "60" || got.At == nil || !got.At.Equal(ttT0.Add(4*time.Minute+30*time.Second)) ||
		got.EventAt == nil || !got.EventAt.Equal(ttT0.Add(4*time.Minute)) {
		t.Errorf("state at 02:04:30Z = v%d %v at %v event_at %v", got.Version, got.State, got.At, got.EventAt)
	}
	// A datetime-local value with the viewer's offset.
	got = stateResponse{}
	b.getJSONInto("/streams/wallet-1/state?at=2025-05-16T04:02:00&tz=%2B02:00", &got)
	if got.Version != 2 {
		t.Errorf("state at a datetime-local with tz = v%d", got.Version)
	}

	// Before the first event: empty and flagged, by time and by version 0.
	for _, q := range []string{"at=2025-05-16T02:00:59Z", "version=0"} {
		got = stateResponse{}
		b.getJSONInto("/streams/wallet-1/state?"+q, &got)
		if !got.BeforeFirstEvent || got.Version != 0 || len(got.State) != 0 || len(got.Blame) != 0 || got.EventAt != nil {
			t.Errorf("%s: %+v", q, got)
		}
	}

	// Past the head: the latest, with a notice. No parameter: the latest.
	got = stateResponse{}
	b.getJSONInto("/streams/wallet-1/state?version=99", &got)
	if got.Version != 5 || fmt.Sprint(got.State["balance"]) != "100" || !strings.Contains(got.Notice, "past the stream's last version 5") {
		t.Errorf("version 99 = v%d %v notice %q", got.Version, got.State, got.Notice)
	}
	got = stateResponse{}
	b.getJSONInto("/streams/wallet-1/state", &got)
	if got.Version != 5 || got.Notice != "" {
		t.Errorf("latest = v%d notice %q", got.Version, got.Notice)
	}
}

func TestStatePageShowsTreeWithBlame(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	evs := seedTTWallet(b, 4)
	tagged := ev("Tagged", `{"tag":"vip"}`, `{"actor":"m.okafor"}`)
	tagged.RecordedAt = ttT0.Add(5 * time.Minute)
	b.append("wallet-1", "Wallet", tagged)

	doc := b.page("/streams/wallet-1/state?version=5", http.StatusOK)
	if doc.Find(`nav[data-testid=nav]`).Length() != 1 {
		t.Error("the full page has no layout")
	}
	view := doc.Find(`[data-testid=state-view]`)
	if view.AttrOr("data-state-version", "") != "5" || view.Find(`[data-testid=latest]`).Length() != 1 {
		t.Errorf("state view version %q", view.AttrOr("data-state-version", ""))
	}
	row := doc.Find(`[data-testid=state-row][data-path="/balance"]`)
	if row.AttrOr("data-kind", "") != "leaf" || row.Find(`[data-testid=state-value]`).Text() != "60" {
		t.Errorf("balance row = %q", row.Text())
	}
	link := row.Find(`[data-testid=blame-link]`)
	if link.AttrOr("href", "") != fmt.Sprintf("/events/%d", evs[3].Position) || strings.TrimSpace(link.Text()) != "v4" ||
		row.Find(`[data-testid=blame-event-type]`).Text() != "MoneyDeposited" || strings.TrimSpace(row.Find(`[data-testid=blame-actor]`).Text()) != "agent-4" {
		t.Errorf("balance blame = %q (href %q)", row.Find(`[data-testid=blame]`).Text(), link.AttrOr("href", ""))
	}
	if row.Find(`time`).Length() != 1 {
		t.Error("the blame has no time")
	}
	// The tree: /tags is an array holding one element set by v5.
	tags := doc.Find(`[data-testid=state-row][data-path="/tags"]`)
	el := doc.Find(`[data-testid=state-row][data-path="/tags/0"]`)
	if tags.AttrOr("data-kind", "") != "array" || el.Find(`[data-testid=state-value]`).Text() != `"vip"` ||
		strings.TrimSpace(el.Find(`[data-testid=blame-link]`).Text()) != "v5" || !el.Find(`td`).First().HasClass("depth-1") {
		t.Errorf("tags rows = %q / %q", tags.Text(), el.Text())
	}
	var paths []string
	doc.Find(`[data-testid=state-row]`).Each(func(_ int, s *goquery.Selection) { paths = append(paths, s.AttrOr("data-path", "")) })
	if strings.Join(paths, " ") != "/balance /owner /tags /tags/0" {
		t.Errorf("rows in order %v", paths)
	}
	// Navigation and forms.
	if doc.Find(`[data-testid=state-prev]`).AttrOr("href", "") != "/streams/wallet-1/state?version=4" || doc.Find(`[data-testid=state-next]`).Length() != 0 {
		t.Error("prev/next links")
	}
	if doc.Find(`[data-testid=state-version-input]`).AttrOr("value", "") != "5" || doc.Find(`[data-testid=state-at-input]`).AttrOr("value", "") != "2025-05-16T02:05:00" ||
		doc.Find(`form[data-testid=state-at-form][method=get] input[data-tz]`).Length() != 1 {
		t.Errorf("forms: version %q at %q", doc.Find(`[data-testid=state-version-input]`).AttrOr("value", ""), doc.Find(`[data-testid=state-at-input]`).AttrOr("value", ""))
	}
	if !strings.Contains(doc.Find(`[data-testid=state-json]`).Text(), `"balance": 60`) {
		t.Errorf("state JSON = %q", doc.Find(`[data-testid=state-json]`).Text())
	}

	// An earlier version names its diff to the latest.
	doc = b.page("/streams/wallet-1/state?version=2", http.StatusOK)
	if doc.Find(`[data-testid=state-diff-link]`).AttrOr("href", "") != "/streams/wallet-1/diff?from=v:2&to=v:5" || doc.Find(`[data-testid=latest]`).Length() != 0 {
		t.Error("diff link or latest badge at v2")
	}

	// Before the first event: labelled.
	doc = b.page("/streams/wallet-1/state?at=2025-05-16T01:00:00Z", http.StatusOK)
	if doc.Find(`[data-testid=before-first]`).Length() != 1 || doc.Find(`[data-testid=state-row]`).Length() != 0 ||
		doc.Find(`[data-testid=state-view]`).AttrOr("data-state-version", "") != "0" {
		t.Errorf("before first event: %q", doc.Find(`[data-testid=state-summary]`).Text())
	}
}

// The timeline's state panel loads /state with htmx: a fragment, no layout,
// carrying the version the slider moves to.
func TestStateFragmentForHTMX(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 6)
	req := httptest.NewRequest(http.MethodGet, "/streams/wallet-1/state?version=4", nil)
	req.Header.Set("HX-Request", "true")
	rec := httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("fragment: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	if strings.Contains(body, "<html") || strings.Contains(body, `data-testid="nav"`) {
		t.Error("the fragment has the layout")
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find(`[data-state-version="4"][data-testid=state-view].tt-compact`).Length() != 1 {
		t.Errorf("fragment has no state view at v4: %.300s", body)
	}
	if v := doc.Find(`[data-testid=state-row][data-path="/balance"] [data-testid=state-value]`).Text(); v != "60" {
		t.Errorf("balance in fragment = %q", v)
	}
	if doc.Find(`[data-testid=state-row][data-path="/balance"] [data-testid=blame-actor]`).Text() != "agent-4" {
		t.Error("no actor in the compact blame")
	}
	// Stepping stays inside the panel.
	next := doc.Find(`[data-testid=state-next]`)
	if next.AttrOr("hx-get", "") != "/streams/wallet-1/state?version=5" || next.AttrOr("hx-target", "") != "#state-panel" {
		t.Errorf("next link in the fragment: %v", next.Nodes)
	}
	if doc.Find(`[data-testid=state-page-link]`).AttrOr("href", "") != "/streams/wallet-1/state?version=4" {
		t.Error("no link to the full page")
	}
	if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "HX-Request") {
		t.Errorf("Vary = %q", rec.Header().Values("Vary"))
	}
}

func TestStateBadInput(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 2)
	for _, tc := range []struct{ query, param string }{
		{"version=abc", "version"},
		{"version=-1", "version"},
		{"at=yesterday", "at"},
		{"at=2025-13-01T00:00:00Z", "at"},
		{"version=1&at=2025-05-16T02:00:00Z", "at"},
		{"at=2025-05-16T02:00&tz=Mars", "tz"},
	} {
		rec := b.get("/streams/wallet-1/state?"+tc.query, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid "+tc.param) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.query, rec.Code, rec.Body.String(), tc.param)
		}
	}
	rec := b.get("/streams/nope/state?version=1", "application/json")
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown stream JSON: %d", rec.Code)
	}
	doc := b.page("/streams/nope/state", http.StatusNotFound)
	if doc.Find(`[data-testid=error]`).Length() != 1 || doc.Find(`[data-testid=error] input[name=q]`).Length() != 1 {
		t.Errorf("404 page without a search box: %q", doc.Find(`main`).Text())
	}
}

// State values, keys and pointers carrying HTML are shown as text.
func TestStateEscapesHTML(t *testing.T) {
	t.Parallel()
	b := setup(t) // no reducers: merge patches
	payload := `{"<img src=x onerror=alert(1)>":"<script>alert('x')</script>","a/b~c":{"note":"Grüße, 東京 & <b>bold</b>"}}`
	b.append("odd-1", "Odd", ev("Weird", payload, `{"actor":"<i>mallory</i>"}`))

	for _, hx := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodGet, "/streams/odd-1/state", nil)
		if hx {
			req.Header.Set("HX-Request", "true")
		}
		rec := httptest.NewRecorder()
		b.server.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>bold", "<i>mallory"} {
			if strings.Contains(body, raw) {
				t.Errorf("hx=%v: body contains unescaped %q", hx, raw)
			}
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if doc.Find(`script:not([src])`).Length() != 0 || doc.Find(`img`).Length() != 0 {
			t.Errorf("hx=%v: markup from the state became elements", hx)
		}
		row := doc.Find(`[data-testid=state-row][data-path="/<img src=x onerror=alert(1)>"]`)
		if row.Find(`[data-testid=state-value]`).Text() != `"<script>alert('x')</script>"` {
			t.Errorf("hx=%v: value shown as %q", hx, row.Find(`[data-testid=state-value]`).Text())
		}
		note := doc.Find(`[data-testid=state-row][data-path="/a~1b~0c/note"]`)
		if note.Find(`[data-testid=state-value]`).Text() != `"Grüße, 東京 & <b>bold</b>"` {
			t.Errorf("hx=%v: pointer escaping or text: %q", hx, note.Text())
		}
		if note.Find(`[data-testid=blame-actor]`).Text() != "<i>mallory</i>" {
			t.Errorf("hx=%v: actor = %q", hx, note.Find(`[data-testid=blame-actor]`).Text())
		}
	}
}

// A rule that cannot apply is reported at its event; the page still
// renders the rest of the state.
func TestStateShowsFoldErrorAtItsEvent(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 2)
	b.append("wallet-1", "Wallet",
		ev("MoneyDeposited", `{"amount":"a lot"}`, `{"actor":"bot"}`),
		ev("MoneyDeposited", `{"amount":5}`, `{"actor":"bot"}`))

	var got stateResponse
	b.getJSONInto("/streams/wallet-1/state", &got)
	if len(got.Errors) != 1 || got.Errors[0].Version != 3 || got.Errors[0].Op != "inc" || fmt.Sprint(got.State["balance"]) != "15" {
		t.Fatalf("errors %+v, state %v", got.Errors, got.State)
	}
	doc := b.page("/streams/wallet-1/state", http.StatusOK)
	fe := doc.Find(`[data-testid=fold-errors] [data-testid=fold-error][data-version="3"]`)
	if fe.Length() != 1 || !strings.Contains(fe.Text(), "rule 0 (inc /balance)") || fe.Find(`a`).AttrOr("href", "") != "/streams/wallet-1?version=3" {
		t.Errorf("fold error shown as %q", fe.Text())
	}
	if doc.Find(`[data-testid=state-row][data-path="/balance"] [data-testid=state-value]`).Text() != "15" {
		t.Error("the state after the error is missing")
	}
	// Before the failing event there is no error.
	doc = b.page("/streams/wallet-1/state?version=2", http.StatusOK)
	if doc.Find(`[data-testid=fold-error]`).Length() != 0 {
		t.Error("fold error shown before its event")
	}
}

// Without a configured service the pages fold with merge patches and write
// no snapshot.
func TestStateWithoutService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("c-1", "Counter", ev("Set", `{"n":1}`, ""), ev("Set", `{"n":2,"m":true}`, ""))
	var got stateResponse
	b.getJSONInto("/streams/c-1/state?version=2", &got)
	if fmt.Sprint(got.State["n"]) != "2" || got.State["m"] != true {
		t.Errorf("state = %v", got.State)
	}
	var n int
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.snapshots`).Scan(&n); err != nil || n != 0 {
		t.Errorf("snapshots = %d (%v)", n, err)
	}
}

// The configured service's snapshots serve the page.
func TestStateUsesSnapshots(t *testing.T) {
	t.Parallel()
	b, svc := ttSetup(t)
	seedTTWallet(b, 35)
	var got stateResponse
	b.getJSONInto("/streams/wallet-1/state", &got)
	before := svc.Stats()
	if before.SnapshotsWritten != 3 {
		t.Fatalf("stats after the first page = %+v", before)
	}
	b.getJSONInto("/streams/wallet-1/state?version=23", &got)
	after := svc.Stats()
	if after.SnapshotsLoaded != before.SnapshotsLoaded+1 || after.EventsFolded != before.EventsFolded+3 || got.Version != 23 {
		t.Errorf("second page: %+v → %+v, v%d", before, after, got.Version)
	}
}

// Huge and deeply nested states render bounded pages; the JSON has it all.
func TestStateHugeAndDeepStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var sb strings.Builder
	sb.WriteString(`{`)
	for i := 0; i < 2100; i++ {
		fmt.Fprintf(&sb, `"k%04d":%d,`, i, i)
	}
	sb.WriteString(`"deep":` + strings.Repeat(`{"d":`, 60) + `"bottom"` + strings.Repeat(`}`, 60) + `}`)
	b.append("big-1", "Big", ev("Loaded", sb.String(), ""))

	doc := b.page("/streams/big-1/state", http.StatusOK)
	rows := doc.Find(`[data-testid=state-row]`)
	if rows.Length() != maxStateRowsPage || doc.Find(`[data-testid=state-hidden]`).Length() != 1 {
		t.Errorf("page rows = %d, hidden notice %d", rows.Length(), doc.Find(`[data-testid=state-hidden]`).Length())
	}
	// Document order: "deep" sorts first, its 60 levels capped in indentation.
	bottom := doc.Find(`[data-testid=state-row][data-path="/deep` + strings.Repeat("/d", 60) + `"]`)
	if bottom.Find(`[data-testid=state-value]`).Text() != `"bottom"` || !bottom.Find(`td`).First().HasClass("depth-12") {
		t.Errorf("deepest leaf = %q", bottom.Text())
	}
	req := httptest.NewRequest(http.MethodGet, "/streams/big-1/state", nil)
	req.Header.Set("HX-Request", "true")
	rec := httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	frag, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if n := frag.Find(`[data-testid=state-row]`).Length(); n != maxStateRowsFragment {
		t.Errorf("fragment rows = %d", n)
	}
	var got stateResponse
	b.getJSONInto("/streams/big-1/state", &got)
	if len(got.State) != 2101 || len(got.Blame) != 2101 {
		t.Errorf("JSON has %d fields, %d blamed", len(got.State), len(got.Blame))
	}
}

// Time zones typed unencoded into a URL arrive with a space for the "+";
// the year-1 time is a time like any other, long before the first event.
func TestStateTimeAsTyped(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 4)
	for _, q := range []string{"at=2025-05-16T04:02:00&tz=+02:00", "at=2025-05-16T04:02:00+02:00", "at=2025-05-16T04:02:00&tz=%2B02:00"} {
		var got stateResponse
		b.getJSONInto("/streams/wallet-1/state?"+q, &got)
		if got.Version != 2 {
			t.Errorf("%s: v%d, want v2", q, got.Version)
		}
	}
	for _, q := range []string{"at=0001-01-01T00:00:00Z", "at=0001-01-01T00:00"} {
		var got stateResponse
		b.getJSONInto("/streams/wallet-1/state?"+q, &got)
		if !got.BeforeFirstEvent || got.Version != 0 {
			t.Errorf("%s: v%d, want the empty state before the first event", q, got.Version)
		}
	}
	var tl struct {
		Notice string `json:"notice"`
	}
	b.getJSONInto("/streams/wallet-1?at=0001-01-01T00:00:00Z", &tl)
	if !strings.Contains(tl.Notice, "No event was recorded") {
		t.Errorf("timeline at year 1: notice %q", tl.Notice)
	}
	var diff diffResponse
	b.getJSONInto("/streams/wallet-1/diff?from=v:2&to=0001-01-01T00:00:00Z", &diff)
	if diff.ToVersion != 0 {
		t.Errorf("diff to year 1: to_version %d, want 0", diff.ToVersion)
	}
	if rec := b.get("/streams/wallet-1/state?at=2025-05-16T04:02:00&tz=+25:00", "application/json"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid tz") {
		t.Errorf("tz +25:00: %d %s", rec.Code, rec.Body)
	}
}
