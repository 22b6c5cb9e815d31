package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

type diffResponse struct {
	StreamID    string `json:"stream_id"`
	StreamType  string `json:"stream_type"`
	From        string `json:"from"`
	To          string `json:"to"`
	FromVersion int    `json:"from_version"`
	ToVersion   int    `json:"to_version"`
	Changes     []struct {
		Path       string    `json:"path"`
		Op         string    `json:"op"`
		Old        any       `json:"old"`
		New        any       `json:"new"`
		Version    int       `json:"version"`
		EventType  string    `json:"event_type"`
		Actor      string    `json:"actor"`
		RecordedAt time.Time `json:"recorded_at"`
	} `json:"changes"`
}

func TestDiffJSON(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 4)
	tagged := ev("Tagged", `{"tag":"vip"}`, `{"actor":"m.okafor"}`)
	tagged.RecordedAt = ttT0.Add(5 * time.Minute)
	b.append("wallet-1", "Wallet", tagged)

	var got diffResponse
	b.getJSONInto("/streams/wallet-1/diff?from=v:2&to=v:5", &got)
	if got.StreamID != "wallet-1" || got.StreamType != "Wallet" || got.FromVersion != 2 || got.ToVersion != 5 || got.From != "v:2" || got.To != "v:5" {
		t.Errorf("header = %+v", got)
	}
	if len(got.Changes) != 2 {
		t.Fatalf("changes = %+v", got.Changes)
	}
	bal, tag := got.Changes[0], got.Changes[1]
	if bal.Path != "/balance" || bal.Op != "replace" || fmt.Sprint(bal.Old) != "10" || fmt.Sprint(bal.New) != "60" ||
		bal.Version != 4 || bal.EventType != "MoneyDeposited" || bal.Actor != "agent-4" || !bal.RecordedAt.Equal(ttT0.Add(4*time.Minute)) {
		t.Errorf("balance change = %+v", bal)
	}
	if tag.Path != "/tags/0" || tag.Op != "add" || tag.Old != nil || tag.New != "vip" || tag.Version != 5 || tag.EventType != "Tagged" {
		t.Errorf("tag change = %+v", tag)
	}

	// Times (RFC 3339, any zone) and versions mix; later to earlier reads
	// backwards.
	got = diffResponse{}
	b.getJSONInto("/streams/wallet-1/diff?from=2025-05-16T04:05:00%2B02:00&to=v:3", &got)
	if got.FromVersion != 5 || got.ToVersion != 3 || len(got.Changes) != 2 || got.Changes[1].Op != "remove" || got.Changes[1].Old != "vip" || got.Changes[1].New != nil {
		t.Errorf("backwards diff = %+v", got)
	}

	// Backwards over a path three deposits changed: the change is the
	// first deposit's to undo (v3 left 30 where v2 left 10), not the last's.
	got = diffResponse{}
	b.getJSONInto("/streams/wallet-1/diff?from=v:4&to=v:2", &got)
	if len(got.Changes) != 1 || got.Changes[0].Path != "/balance" || fmt.Sprint(got.Changes[0].Old) != "60" || fmt.Sprint(got.Changes[0].New) != "10" ||
		got.Changes[0].Version != 3 || got.Changes[0].Actor != "agent-3" {
		t.Errorf("backwards diff v4 to v2 = %+v", got.Changes)
	}
	// Defaults: from before the first event to the latest: all adds.
	got = diffResponse{}
	b.getJSONInto("/streams/wallet-1/diff", &got)
	if got.FromVersion != 0 || got.ToVersion != 5 || got.From != "v:0" || got.To != "latest" || len(got.Changes) != 3 {
		t.Fatalf("default diff = %+v", got)
	}
	for _, c := range got.Changes {
		if c.Op != "add" {
			t.Errorf("default diff change %+v", c)
		}
	}

	// No differences.
	got = diffResponse{}
	b.getJSONInto("/streams/wallet-1/diff?from=v:3&to=3", &got)
	if got.Changes == nil || len(got.Changes) != 0 {
		t.Errorf("same moment: %+v", got.Changes)
	}
}

func TestDiffPage(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 4)

	const path = "/streams/wallet-1/diff?from=v:1&to=2025-05-16T02:04:00Z"
	doc := b.page(path, http.StatusOK)
	rows := doc.Find(`[data-testid=diff-table] [data-testid=diff-row]`)
	if rows.Length() != 1 {
		t.Fatalf("diff rows = %d: %q", rows.Length(), doc.Find(`[data-testid=diff]`).Text())
	}
	r := rows.First()
	if r.AttrOr("data-path", "") != "/balance" || r.AttrOr("data-op", "") != "replace" ||
		r.Find(`[data-testid=diff-old]`).Text() != "0" || r.Find(`[data-testid=diff-new]`).Text() != "60" {
		t.Errorf("row = %q", r.Text())
	}
	if l := r.Find(`[data-testid=blame-link]`); l.AttrOr("href", "") != "/streams/wallet-1?version=4" || strings.TrimSpace(l.Text()) != "v4" ||
		!strings.Contains(r.Find(`[data-testid=blame]`).Text(), "agent-4") {
		t.Errorf("blame = %q", r.Find(`[data-testid=blame]`).Text())
	}
	if doc.Find(`[data-testid=diff-from-version]`).Text() != "v1" || doc.Find(`[data-testid=diff-to-version]`).Text() != "v4" {
		t.Error("sides")
	}
	// A GET form whose values are the ones given; a shareable link.
	form := doc.Find(`form[data-testid=diff-form]`)
	if form.AttrOr("method", "") != "get" || form.AttrOr("action", "") != "/streams/wallet-1/diff" ||
		form.Find(`[data-testid=diff-from]`).AttrOr("value", "") != "v:1" || form.Find(`[data-testid=diff-to]`).AttrOr("value", "") != "2025-05-16T02:04:00Z" {
		t.Errorf("form %v", form.Nodes)
	}
	share := doc.Find(`[data-testid=share-link]`).AttrOr("href", "")
	if share != "/streams/wallet-1/diff?from=v%3A1&to=2025-05-16T02%3A04%3A00Z" {
		t.Errorf("share link %q", share)
	}
	again := b.page(share, http.StatusOK)
	if again.Find(`[data-testid=diff-row]`).Text() != rows.Text() {
		t.Error("the share link shows another diff")
	}
	if !strings.Contains(doc.Find(`[data-testid=to-json]`).Text(), `"balance": 60`) || !strings.Contains(doc.Find(`[data-testid=from-json]`).Text(), `"balance": 0`) {
		t.Error("side-by-side states")
	}

	// Before the first event is labelled; no difference is said.
	doc = b.page("/streams/wallet-1/diff?from=2020-01-01T00:00:00Z&to=v:0", http.StatusOK)
	if doc.Find(`[data-testid=diff-from-side] .badge`).Length() != 1 || doc.Find(`[data-testid=diff-empty]`).Length() != 1 {
		t.Errorf("empty diff page: %q", doc.Find(`[data-testid=diff]`).Text())
	}
}

func TestDiffBadInput(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 2)
	for _, tc := range []struct{ query, param string }{
		{"from=v:x", "from"},
		{"from=v:", "from"},
		{"to=yesterday", "to"},
		{"from=v:1&to=2025-02-30T00:00:00Z", "to"},
		{"from=99999999999999999999", "from"},
		{"from=2025-05-16T02:00&tz=nowhere", "tz"},
	} {
		rec := b.get("/streams/wallet-1/diff?"+tc.query, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid "+tc.param) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.query, rec.Code, rec.Body.String(), tc.param)
		}
	}
	if rec := b.get("/streams/nope/diff?from=v:1", "application/json"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown stream: %d", rec.Code)
	}
	doc := b.page("/streams/nope/diff", http.StatusNotFound)
	if doc.Find(`[data-testid=error]`).Length() != 1 {
		t.Error("no 404 page")
	}
}

// Diffed values carrying HTML are text.
func TestDiffEscapesHTML(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("odd-1", "Odd",
		ev("A", `{"x":"<b>old</b>"}`, `{"actor":"<i>eve</i>"}`),
		ev("B", `{"x":"<script>alert(1)</script>"}`, `{"actor":"<i>eve</i>"}`))
	rec := b.get("/streams/odd-1/diff?from=v:1&to=v:2", "text/html")
	body := rec.Body.String()
	for _, raw := range []string{"<script>alert", "<b>old", "<i>eve"} {
		if strings.Contains(body, raw) {
			t.Errorf("unescaped %q", raw)
		}
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Find(`[data-testid=diff-row][data-path="/x"]`)
	if r.Find(`[data-testid=diff-old]`).Text() != `"<b>old</b>"` || r.Find(`[data-testid=diff-new]`).Text() != `"<script>alert(1)</script>"` {
		t.Errorf("row = %q", r.Text())
	}
}

// A diff lists the events between its moments and, when changes there
// cancelled out, says so instead of only "no differences".
func TestDiffListsEventsInBetweenAndCancelledChanges(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 3) // balance 30 at v3
	fee := ev("MoneyDeposited", `{"amount":-500}`, `{"actor":"billing","source":"annual-fee-job"}`)
	fee.RecordedAt = ttT0.Add(4 * time.Minute)
	refund := ev("MoneyDeposited", `{"amount":500}`, `{"actor":"s.lee","source":"support-console"}`)
	refund.RecordedAt = ttT0.Add(5 * time.Minute)
	b.append("wallet-1", "Wallet", fee, refund)

	var got struct {
		Changes []any `json:"changes"`
		Events  []struct {
			Version    int       `json:"version"`
			EventType  string    `json:"event_type"`
			RecordedAt time.Time `json:"recorded_at"`
			Actor      string    `json:"actor"`
			Source     string    `json:"source"`
		} `json:"events"`
		EventsTotal int `json:"events_total"`
		Cancelled   []struct {
			Path   string `json:"path"`
			Values []any  `json:"values"`
		} `json:"cancelled"`
	}
	b.getJSONInto("/streams/wallet-1/diff?from=v:3&to=v:5", &got)
	if len(got.Changes) != 0 || got.EventsTotal != 2 || len(got.Events) != 2 {
		t.Fatalf("diff = %+v", got)
	}
	if e := got.Events[0]; e.Version != 4 || e.EventType != "MoneyDeposited" || e.Actor != "billing" || e.Source != "annual-fee-job" ||
		!e.RecordedAt.Equal(ttT0.Add(4*time.Minute)) {
		t.Errorf("first event in between = %+v", e)
	}
	if len(got.Cancelled) != 1 || got.Cancelled[0].Path != "/balance" || fmt.Sprint(got.Cancelled[0].Values) != "[30 -470 30]" {
		t.Errorf("cancelled = %+v", got.Cancelled)
	}
	// Backwards, the same events and the same run, oldest first.
	b.getJSONInto("/streams/wallet-1/diff?from=v:5&to=v:3", &got)
	if got.EventsTotal != 2 || got.Events[0].Version != 4 || len(got.Cancelled) != 1 {
		t.Errorf("backwards diff = %+v", got)
	}

	doc := b.page("/streams/wallet-1/diff?from=v:3&to=v:5", http.StatusOK)
	if !strings.Contains(doc.Find(`[data-testid=diff-empty]`).Text(), "cancelled out") {
		t.Errorf("empty diff says %q", doc.Find(`[data-testid=diff-empty]`).Text())
	}
	line := strings.Join(strings.Fields(doc.Find(`[data-testid=cancelled-row][data-path="/balance"]`).Text()), " ")
	if line != "/balance went 30 → -470 → 30: net no change" {
		t.Errorf("cancelled line = %q", line)
	}
	rows := doc.Find(`[data-testid=diff-events] [data-testid=diff-event]`)
	if rows.Length() != 2 || rows.Eq(1).AttrOr("data-version", "") != "5" || !strings.Contains(rows.Eq(1).Text(), "support-console") ||
		!strings.Contains(rows.Eq(1).Text(), "s.lee") {
		t.Errorf("events in between = %q", rows.Text())
	}

	// A real difference names the source next to the actor.
	doc = b.page("/streams/wallet-1/diff?from=v:3&to=v:4", http.StatusOK)
	if src := doc.Find(`[data-testid=diff-row][data-path="/balance"] [data-testid=blame-source]`).Text(); src != "via annual-fee-job" {
		t.Errorf("blame source = %q", src)
	}
	// No event in between: no list.
	doc = b.page("/streams/wallet-1/diff?from=v:3&to=v:3", http.StatusOK)
	if doc.Find(`[data-testid=diff-events]`).Length() != 0 {
		t.Error("events listed for an empty range")
	}
}
