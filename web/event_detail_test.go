package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
)

func TestEventDetailShowsCausationAndCorrelation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	mk := func(n int, stream, typ, cause string) eventstore.Event {
		meta := `{"correlation_id":"corr-1","actor":"job:fees"`
		if cause != "" {
			meta += `,"causation_id":"` + cause + `"`
		}
		return eventstore.Event{EventID: id(n), StreamID: stream, StreamType: "S", EventType: typ,
			Payload: json.RawMessage(`{"n":` + fmt.Sprint(n) + `}`), Metadata: json.RawMessage(meta + "}"), RecordedAt: tlT0}
	}
	evs := []eventstore.Event{mk(1, "job-1", "FeeRunStarted", ""), mk(2, "w-1", "MoneyWithdrawn", id(1)),
		mk(3, "d-1", "DisputeOpened", id(2)), mk(4, "d-1", "DisputeResolved", id(3))}
	evs[0].Version, evs[1].Version, evs[2].Version, evs[3].Version = 1, 1, 1, 2
	if _, err := b.store.Import(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	e2, err := b.store.EventByID(t.Context(), id(2))
	if err != nil {
		t.Fatal(err)
	}
	doc := b.page("/events/"+fmt.Sprint(e2.Position), http.StatusOK)
	if got := doc.Find(`[data-testid=cause]`).Text(); !strings.Contains(got, "FeeRunStarted") {
		t.Errorf("causes = %q", got)
	}
	effects := doc.Find(`[data-testid=effect]`)
	if effects.Length() != 2 || !strings.Contains(effects.Eq(0).Text(), "DisputeOpened") || !strings.Contains(effects.Eq(1).Text(), "DisputeResolved") {
		t.Errorf("effects = %q", effects.Text())
	}
	corr := doc.Find(`[data-testid=correlated-event]`)
	if corr.Length() != 4 || corr.Filter(".chain-self").Length() != 1 {
		t.Errorf("correlated = %d (self %d)", corr.Length(), corr.Filter(".chain-self").Length())
	}
	if href := corr.Eq(2).Find("a.stream-link").AttrOr("href", ""); href != "/streams/d-1?version=1" {
		t.Errorf("correlated link = %q", href)
	}
	if got := doc.Find(`[data-testid=event-detail] [data-testid=payload]`).Text(); !strings.Contains(got, `"n": 2`) {
		t.Errorf("payload = %q", got)
	}
	if _, open := doc.Find(`[data-testid=event-detail] details.event-body`).Attr("open"); !open {
		t.Error("the event's payload is folded away on its own page")
	}
	if got := doc.Find(`[data-testid=event-detail] .change`).Text(); !strings.Contains(got, "/n") {
		t.Errorf("changes = %q", got)
	}

	rec := b.get("/events/"+fmt.Sprint(e2.Position), "application/json")
	var body struct {
		EventID string `json:"event_id"`
		Causes  []struct {
			EventType string `json:"event_type"`
			Depth     int    `json:"depth"`
		} `json:"causes"`
		Effects    []json.RawMessage `json:"effects"`
		Correlated []json.RawMessage `json:"correlated"`
		Changes    []json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.EventID != id(2) || len(body.Causes) != 1 || body.Causes[0].Depth != 1 || len(body.Effects) != 2 || len(body.Correlated) != 4 || len(body.Changes) != 1 {
		t.Errorf("JSON = %+v", body)
	}

	// By event id: a redirect to the position.
	rec = b.get("/events/"+id(2), "text/html")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/events/"+fmt.Sprint(e2.Position) {
		t.Errorf("by id = %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestEventDetailBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if rec := b.get("/events/abc", "application/json"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid position") {
		t.Errorf("/events/abc = %d %s", rec.Code, rec.Body)
	}
	if rec := b.get("/events/-4", "application/json"); rec.Code != http.StatusBadRequest {
		t.Errorf("/events/-4 = %d", rec.Code)
	}
	doc := b.page("/events/999999", http.StatusNotFound)
	if doc.Find(`[data-testid=not-found-search]`).Length() != 1 {
		t.Error("404 without search box")
	}
	if rec := b.get("/events/00000000-0000-4000-8000-000000000999", "application/json"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown event id = %d", rec.Code)
	}
}
