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

func positions(doc *goquery.Document) []int64 {
	var out []int64
	doc.Find(`[data-testid=event-log] [data-testid=event-row]`).Each(func(_ int, s *goquery.Selection) {
		var p int64
		fmt.Sscan(s.AttrOr("data-position", ""), &p)
		out = append(out, p)
	})
	return out
}

func TestEventsLogNewestFirstWithCursorsAndLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var evs []eventstore.Event
	for i := 1; i <= 130; i++ {
		actor := "customer:ana"
		if i%2 == 0 {
			actor = "job:fees"
		}
		evs = append(evs, eventstore.Event{StreamID: fmt.Sprintf("w-%d", i%7), StreamType: "Wallet", Version: i/7 + 1,
			EventType: "Tick", Payload: json.RawMessage(`{}`), RecordedAt: tlT0.Add(time.Duration(i) * time.Minute),
			Metadata: json.RawMessage(`{"actor":"` + actor + `"}`)})
	}
	if _, err := b.store.Import(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	doc := b.page("/events", http.StatusOK)
	p := positions(doc)
	if len(p) != 50 || p[0] <= p[49] {
		t.Fatalf("page 1 positions %v…", p)
	}
	if doc.Find(`[data-testid=live][sse-connect="/live/events"] [sse-swap=event][hx-swap=afterbegin]`).Length() != 1 {
		t.Error("newest page is not live")
	}
	next, _ := doc.Find(`[data-testid=page-next]`).First().Attr("href")
	doc2 := b.page(next, http.StatusOK)
	p2 := positions(doc2)
	if len(p2) != 50 || p2[0] != p[49]-1 {
		t.Fatalf("page 2 starts at %d after %d", p2[0], p[49])
	}
	if doc2.Find(`[data-testid=live]`).Length() != 0 {
		t.Error("an older page is live")
	}
	next3, _ := doc2.Find(`[data-testid=page-next]`).First().Attr("href")
	p3 := positions(b.page(next3, http.StatusOK))
	if len(p3) != 30 {
		t.Errorf("last page has %d", len(p3))
	}
	prev, _ := doc2.Find(`[data-testid=page-prev]`).First().Attr("href")
	if back := positions(b.page(prev, http.StatusOK)); fmt.Sprint(back) != fmt.Sprint(p) {
		t.Errorf("newer page from page 2 = %v…, want page 1", back[:3])
	}

	// Filters, live URL carries them, JSON cursors.
	if got := b.page("/events?event_type=Tick&stream_id=w-3", http.StatusOK).Find(`[data-testid=live]`).AttrOr("sse-connect", ""); got != "/live/events?event_type=Tick&stream_id=w-3" {
		t.Errorf("live URL = %q", got)
	}
	doc = b.page("/events?actor=job:fees&stream_id=w-3", http.StatusOK)
	if doc.Find(`[data-testid=live]`).Length() != 0 {
		t.Error("a page filtered on actor is live, but the feed cannot filter on actor")
	}
	doc.Find(`[data-testid=event-row]`).Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("data-stream-id", "") != "w-3" || s.Find(`[data-testid=actor]`).Text() != "job:fees" {
			t.Errorf("row outside the filters: %s", s.AttrOr("id", ""))
		}
	})
	rec := b.get("/events?event_type=Tick&limit=20&before="+fmt.Sprint(p[0]), "application/json")
	var body struct {
		Events []eventstore.Event `json:"events"`
		Next   *int64             `json:"next"`
		Prev   *int64             `json:"prev"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Events) != 20 || body.Events[0].Position != p[0]-1 || body.Next == nil || *body.Next != body.Events[19].Position ||
		body.Prev == nil || *body.Prev != p[0]-1 {
		t.Errorf("JSON page: %d events, next %v prev %v", len(body.Events), body.Next, body.Prev)
	}
	from := tlT0.Add(10 * time.Minute).Format(time.RFC3339)
	to := tlT0.Add(19 * time.Minute).Format("2006-01-02T15:04")
	if got := positions(b.page("/events?from="+from+"&to="+to, http.StatusOK)); len(got) != 10 {
		t.Errorf("time window: %d events", len(got))
	}
}

func TestEventsLogBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, param := range map[string]string{
		"/events?before=abc":                                 "before",
		"/events?after=0":                                    "after",
		"/events?before=1&after=2":                           "after",
		"/events?from=2025-05-01T10":                         "from",
		"/events?event_type=%FF":                             "event_type",
		"/events?correlation_id=" + strings.Repeat("x", 600): "correlation_id",
	} {
		rec := b.get(path, "application/json")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid "+param) {
			t.Errorf("%s = %d %s", path, rec.Code, rec.Body)
		}
	}
	doc := b.page("/events?actor=nobody", http.StatusOK)
	if doc.Find(`[data-testid=empty]`).Length() != 1 {
		t.Error("empty result without a message")
	}
}
