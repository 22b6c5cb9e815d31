package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// seed004Setup is a bundle reading a seed-004 table (no global position):
// two accounts, two of whose events share a time (one transaction's
// CURRENT_TIMESTAMP), so that the log's order needs stream and version.
func seed004Setup(t *testing.T) *bundle {
	t.Helper()
	return mappedBundle(t, pgtest.Seed004SQL+`
		INSERT INTO app.events (id, aggregate_id, event_type, event_data, version, timestamp) VALUES
		('00000000-0000-4000-8000-000000000001', '`+mappedWallet+`', 'Opened',    '{"balance":0}',  1, '2026-03-01 10:00:00'),
		('00000000-0000-4000-8000-000000000002', '`+mappedOther+`',  'Opened',    '{"balance":0}',  1, '2026-03-01 10:01:00'),
		('00000000-0000-4000-8000-000000000003', '`+mappedWallet+`', 'Deposited', '{"balance":20}', 2, '2026-03-01 10:01:00'),
		('00000000-0000-4000-8000-000000000004', '`+mappedWallet+`', 'Withdrawn', '{"balance":5}',  3, '2026-03-01 10:02:00');`,
		pgtest.Seed004Mapping)
}

// Without a global position every page still works: the log is ordered by
// time, then stream and version, its pages chain through stable keys, and
// each event's URL is its event id.
func TestSeed004WithoutPosition(t *testing.T) {
	t.Parallel()
	b := seed004Setup(t)
	var tl struct {
		Stream eventstore.StreamInfo `json:"stream"`
		Events []eventstore.Event    `json:"events"`
	}
	b.getJSONInto("/streams/"+mappedWallet, &tl)
	if tl.Stream.Version != 3 || len(tl.Events) != 3 || tl.Events[2].EventType != "Withdrawn" {
		t.Fatalf("timeline = %+v", tl)
	}
	var state stateResponse
	b.getJSONInto("/streams/"+mappedWallet+"/state?version=2", &state)
	if state.State["balance"] != float64(20) {
		t.Errorf("state at v2 = %v", state.State)
	}
	var diff struct {
		Changes []struct {
			Path string `json:"path"`
		} `json:"changes"`
	}
	b.getJSONInto("/streams/"+mappedWallet+"/diff?from=v:1&to=v:3", &diff)
	if len(diff.Changes) != 1 || diff.Changes[0].Path != "/balance" {
		t.Errorf("diff = %+v", diff)
	}
	// The log one event a page, oldest-last, following next_key: every
	// event once, in (time, stream, version) order; and back with prev_key.
	var ids []string
	var keys []string
	cursor := ""
	for range 10 {
		var page struct {
			Events  []eventstore.Event `json:"events"`
			NextKey string             `json:"next_key"`
		}
		path := "/events?limit=1"
		if cursor != "" {
			path += "&before=" + cursor
		}
		b.getJSONInto(path, &page)
		for _, e := range page.Events {
			ids = append(ids, e.EventID[len(e.EventID)-1:])
		}
		keys = append(keys, cursor)
		if cursor = page.NextKey; cursor == "" {
			break
		}
	}
	// 10:01 holds two events: mappedOther (0a4e…) sorts before mappedWallet (7d1f…).
	if strings.Join(ids, ",") != "4,3,2,1" {
		t.Errorf("log pages = %v, want 4,3,2,1", ids)
	}
	var back struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/events?limit=2&after="+keys[3], &back)
	if len(back.Events) != 2 || back.Events[0].EventID[35:] != "4" || back.Events[1].EventID[35:] != "3" {
		t.Errorf("the page after event 2 = %+v", back.Events)
	}
	doc := b.page("/events?limit=1&before="+keys[1], http.StatusOK)
	if href, _ := doc.Find(`a.pos`).First().Attr("href"); href != "/events/00000000-0000-4000-8000-000000000003" {
		t.Errorf("the event link is %q, want its event id", href)
	}
	// The event page by event id, no redirect; digits are no address here.
	ev := b.page("/events/00000000-0000-4000-8000-000000000003", http.StatusOK)
	if !strings.Contains(ev.Text(), "Deposited") {
		t.Error("the event page does not show the event")
	}
	// The header box goes to an event by its event id, at its address.
	if rec := b.get("/find?q=00000000-0000-4000-8000-000000000003", "text/html"); rec.Code != http.StatusSeeOther ||
		rec.Header().Get("Location") != "/events/00000000-0000-4000-8000-000000000003" {
		t.Errorf("find by event id = %d to %q, want 303 to the event's address", rec.Code, rec.Header().Get("Location"))
	}
	for path, want := range map[string]int{
		"/events/3": http.StatusBadRequest, "/events/00000000-0000-4000-8000-000000000009": http.StatusNotFound,
		"/events?before=garbage": http.StatusBadRequest, "/events/00000000-0000-4000-8000-000000000003/raw?part=payload": http.StatusOK,
		"/": http.StatusOK, "/streams": http.StatusOK, "/streams/" + mappedWallet: http.StatusOK,
	} {
		if rec := b.get(path, "text/html"); rec.Code != want {
			t.Errorf("GET %s: %d, want %d: %.200s", path, rec.Code, want, rec.Body.String())
		}
	}
}
