package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/eventstore"
)

// seedCounter appends n events to a stream, event v setting balance to v
// (merge patch semantics, no reducer config) one hour apart from t0.
func seedCounter(b *bundle, stream string, n int, t0 time.Time) {
	b.t.Helper()
	evs := make([]eventstore.Event, n)
	for i := range evs {
		v := i + 1
		evs[i] = eventstore.Event{StreamID: stream, StreamType: "Counter", Version: v, EventType: "Set",
			Payload:    json.RawMessage(fmt.Sprintf(`{"balance":%d,"note":"v%d"}`, v, v)),
			Metadata:   json.RawMessage(`{"actor":"agent:m.okafor","source":"api","correlation_id":"c-` + fmt.Sprint(v) + `"}`),
			RecordedAt: t0.Add(time.Duration(v) * time.Hour)}
	}
	if _, err := b.store.Import(b.t.Context(), evs); err != nil {
		b.t.Fatal(err)
	}
}

func versions(doc *goquery.Document) []int {
	var out []int
	doc.Find(`[data-testid=timeline] [data-testid=event-row]`).Each(func(_ int, s *goquery.Selection) {
		var v int
		fmt.Sscan(s.AttrOr("data-version", ""), &v)
		out = append(out, v)
	})
	return out
}

var tlT0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

func TestTimelinePagesBothWaysWithChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 120, tlT0)

	doc := b.page("/streams/counter-1", http.StatusOK)
	v := versions(doc)
	if len(v) != 50 || v[0] != 71 || v[49] != 120 {
		t.Fatalf("newest page versions %v…", v)
	}
	if doc.Find(`[data-testid=live][sse-connect="/live/events?stream_id=counter-1"] [sse-swap=event][hx-swap=beforeend]`).Length() != 1 {
		t.Error("newest page is not live")
	}
	if doc.Find(`[data-testid=page-next]`).Length() != 0 {
		t.Error("newest page has a newer link")
	}
	// What each event changed, computed from the state before the page.
	first := doc.Find(`[data-testid=event-row]`).First()
	changes := first.Find(`[data-testid=event-changes] li`)
	if changes.Length() != 2 || !strings.Contains(changes.Eq(0).Text(), "/balance") ||
		changes.Eq(0).Find(".old").Text() != "70" || changes.Eq(0).Find(".new").Text() != "71" {
		t.Errorf("changes of v71 = %q", changes.Text())
	}
	// Time travel control and state panel contract.
	if s := doc.Find(`[data-testid=version-slider]`); s.AttrOr("max", "") != "120" || s.AttrOr("value", "") != "120" {
		t.Errorf("slider = max %q value %q", s.AttrOr("max", ""), s.AttrOr("value", ""))
	}
	if p := doc.Find(`#state-panel[data-testid=state-panel]`); p.AttrOr("hx-get", "") != "/streams/counter-1/state?version=120" {
		t.Errorf("state panel hx-get = %q", p.AttrOr("hx-get", ""))
	}
	if doc.Find(`[data-testid=time-input][type=datetime-local]`).Length() != 1 || doc.Find(`script[src="/static/streams.js"]`).Length() != 1 {
		t.Error("time input or script missing")
	}

	older, _ := doc.Find(`[data-testid=page-prev]`).Attr("href")
	doc = b.page(older, http.StatusOK)
	if v := versions(doc); len(v) != 50 || v[0] != 21 || v[49] != 70 {
		t.Fatalf("older page %v…", v)
	}
	if doc.Find(`[data-testid=live]`).Length() != 0 {
		t.Error("an older page is live")
	}
	if got := doc.Find(`[data-testid=event-row]`).First().Find(`.change .old`).First().Text(); got != "20" {
		t.Errorf("v21 old balance = %q", got)
	}
	newer, _ := doc.Find(`[data-testid=page-next]`).Attr("href")
	if v := versions(b.page(newer, http.StatusOK)); len(v) != 50 || v[0] != 71 {
		t.Errorf("newer page %v…", v)
	}
	firstURL, _ := doc.Find(`[data-testid=page-first]`).Attr("href")
	doc = b.page(firstURL, http.StatusOK)
	if v := versions(doc); v[0] != 1 || v[49] != 50 {
		t.Errorf("first page %v…", v)
	}
	if got := doc.Find(`[data-testid=event-row]`).First().Find(`.change-add`).Length(); got != 2 {
		t.Errorf("v1 adds = %d", got)
	}

	// JSON: same events, changes and cursors.
	rec := b.get("/streams/counter-1?before=71&limit=10", "application/json")
	var body struct {
		Stream struct {
			Version int `json:"version"`
		} `json:"stream"`
		Events []struct {
			Version int `json:"version"`
			Changes []struct {
				Path string `json:"path"`
				Op   string `json:"op"`
				Old  any    `json:"old"`
				New  any    `json:"new"`
			} `json:"changes"`
		} `json:"events"`
		Next *int `json:"next"`
		Prev *int `json:"prev"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Stream.Version != 120 || len(body.Events) != 10 || body.Events[0].Version != 61 ||
		body.Next == nil || *body.Next != 70 || body.Prev == nil || *body.Prev != 61 {
		t.Fatalf("JSON = %+v", body)
	}
	if c := body.Events[0].Changes[0]; c.Path != "/balance" || c.Op != "replace" || fmt.Sprint(c.Old) != "60" || fmt.Sprint(c.New) != "61" {
		t.Errorf("JSON change = %+v", c)
	}
}

func TestTimelineJumpsToVersionAndTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 120, tlT0)

	// A jump keeps the events that led up to it on the page, above it.
	doc := b.page("/streams/counter-1?version=77", http.StatusOK)
	if v := versions(doc); v[0] != 77-jumpContext {
		t.Errorf("jump to version: %v…", v[:3])
	}
	if doc.Find(`[data-testid=jump-target]`).PrevAll().Length() != jumpContext {
		t.Errorf("%d events above the jump's target", doc.Find(`[data-testid=jump-target]`).PrevAll().Length())
	}
	// The "at time" box shows the moment of the state chosen.
	if got := doc.Find(`[data-testid=time-input]`).AttrOr("value", ""); got != tlT0.Add(77*time.Hour).UTC().Format("2006-01-02T15:04:05") {
		t.Errorf("time box = %q", got)
	}
	if got := doc.Find(`[data-testid=jump-target] [data-testid=event-row]`).AttrOr("data-version", ""); got != "77" {
		t.Errorf("highlighted %q", got)
	}
	if got := doc.Find(`[data-testid=version-slider]`).AttrOr("value", ""); got != "77" {
		t.Errorf("slider at %q", got)
	}
	// v30 is at t0+30h; 30h30m falls between v30 and v31.
	at := tlT0.Add(30*time.Hour + 30*time.Minute)
	for _, q := range []string{"at=" + at.Format(time.RFC3339), "at=" + at.Format("2006-01-02T15:04"),
		"at=" + at.Add(2*time.Hour).Format("2006-01-02T15:04") + "&tz=%2B02:00"} {
		doc = b.page("/streams/counter-1?"+q, http.StatusOK)
		if v := versions(doc); len(v) == 0 || v[0] != 30-jumpContext || doc.Find(`[data-testid=jump-target] [data-testid=event-row]`).AttrOr("data-version", "") != "30" {
			t.Errorf("%s: page starts at %v", q, v)
		}
	}
	doc = b.page("/streams/counter-1?at=2020-01-01T00:00:00Z", http.StatusOK)
	if v := versions(doc); v[0] != 1 || !strings.Contains(doc.Find(`[data-testid=notice]`).Text(), "No event was recorded") {
		t.Errorf("time before the first event: %v, notice %q", v[:1], doc.Find(`[data-testid=notice]`).Text())
	}
}

func TestTimelineBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 3, tlT0)
	doc := b.page("/streams/no-such-stream", http.StatusNotFound)
	if doc.Find(`[data-testid=not-found-search]`).Length() != 1 {
		t.Error("404 without a search box")
	}
	for path, param := range map[string]string{
		"/streams/counter-1?version=abc":         "version",
		"/streams/counter-1?version=4":           "version",
		"/streams/counter-1?version=-1":          "version",
		"/streams/counter-1?before=x1":           "before",
		"/streams/counter-1?after=1&before=3":    "after",
		"/streams/counter-1?at=2025-02-30T00:00": "at",
		"/streams/counter-1?limit=0x10":          "limit",
	} {
		rec := b.get(path, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid "+param) {
			t.Errorf("%s = %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := b.get("/streams/no-such-stream", "application/json"); rec.Code != http.StatusNotFound {
		t.Errorf("JSON 404 = %d", rec.Code)
	}
}

func TestTimelineEscapesHostilePayloads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	deep := strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200)
	huge := `{"blob":"` + strings.Repeat("x", 300_000) + `"}`
	b.append("evil-1", "X",
		ev("Evil", `{"note":"<script>alert(1)</script>","name":"Zoë 日本 🚀"}`, `{"actor":"<img src=x onerror=alert(1)>"}`),
		ev("Deep", deep, `{}`),
		ev("Huge", huge, `{}`))
	rec := b.get("/streams/evil-1", "text/html")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
		t.Fatal("payload rendered unescaped")
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rows := doc.Find(`[data-testid=event-row]`)
	if rows.Length() != 3 {
		t.Fatalf("rows = %d: a payload broke the layout", rows.Length())
	}
	first := rows.First()
	if got := first.Find(`[data-testid=payload]`).Text(); !strings.Contains(got, `"<script>alert(1)</script>"`) || !strings.Contains(got, "Zoë 日本 🚀") {
		t.Errorf("payload text = %q", got)
	}
	if first.Find(`script, img`).Length() != 0 {
		t.Error("payload produced elements")
	}
	if got := first.Find(`[data-testid=actor]`).Text(); got != "<img src=x onerror=alert(1)>" {
		t.Errorf("actor text = %q", got)
	}
	if got := first.Find(`.change .new`).Text(); !strings.Contains(got, "<script>") {
		t.Errorf("change text = %q", got)
	}
	// The panel after the rows still renders: nothing swallowed the layout.
	if doc.Find(`[data-testid=state-panel]`).Length() != 1 || doc.Find(`pre.json`).Length() < 6 {
		t.Error("layout broken after hostile payloads")
	}
}
