package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
)

// A table with no constraints, holding rows that break every assumption:
// each page answers, and each bad row is shown with what is wrong with it.
func TestMappedRowsThatBreakAssumptionsAreFlagged(t *testing.T) {
	t.Parallel()
	b := mappedBundle(t, `
		CREATE SCHEMA app;
		CREATE TABLE app.ev (id bigserial PRIMARY KEY, sid text, type text, v integer, body text, at timestamptz, archived boolean NOT NULL DEFAULT false);
		INSERT INTO app.ev (sid, type, v, body, at, archived) VALUES
		('s-1', 'Opened',  1, '{"n": 1}',      '2026-03-01 10:00Z', false),
		('s-1', 'Changed', 2, '{"n": 2}',      '2026-03-01 10:05Z', false),
		('s-1', 'Changed', 2, '{"n": 3}',      '2026-03-01 10:06Z', false),
		('s-1', 'Changed', 5, 'not json {',    '2026-03-01 10:07Z', false),
		('s-1', 'Changed', 6, '{"n": 6}',      '2026-03-01 09:00Z', false),
		(NULL,  NULL,      NULL, NULL,         NULL,                false),
		('s-1', 'Secret',  7, '{"n": 7}',      '2026-03-01 10:08Z', true);`,
		`{"source": {"table": "app.ev",
			"columns": {"position": "id", "stream_id": "sid", "event_type": "type", "version": "v", "payload": "body", "recorded_at": "at"},
			"stream_type": "Thing", "where": {"archived": false}}}`)
	var tl struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/streams/s-1", &tl)
	if len(tl.Events) != 5 {
		t.Fatalf("timeline = %+v, want 5 events (the archived row left out)", tl.Events)
	}
	want := map[int64]string{3: "version 2 appears twice", 4: "versions 3 to 4 are missing|the payload is not JSON", 5: "time goes backwards"}
	for _, e := range tl.Events {
		for _, w := range strings.Split(want[e.Position], "|") {
			if w != "" && !strings.Contains(strings.Join(e.Problems, "; "), w) {
				t.Errorf("event %d problems %q, want %q", e.Position, e.Problems, w)
			}
		}
	}
	if got := tl.Events[3].Payload; string(got) != `"not json {"` {
		t.Errorf("a non-JSON payload reads %s, want its text as a JSON string", got)
	}
	doc := b.page("/streams/s-1", http.StatusOK)
	if n := doc.Find(`[data-testid=event-problem]`).Length(); n < 4 {
		t.Errorf("the timeline flags %d problems, want at least 4", n)
	}
	var log struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/events", &log)
	if len(log.Events) != 6 || log.Events[0].Position != 6 || !strings.Contains(strings.Join(log.Events[0].Problems, ";"), "no stream id (NULL)") {
		t.Fatalf("log = %+v", log.Events)
	}
	page := b.page("/events", http.StatusOK)
	if !strings.Contains(page.Find(`[data-testid=event-problems]`).Text(), "no payload (NULL)") {
		t.Error("the log does not flag the row of NULLs")
	}
	for _, path := range []string{"/", "/streams", "/events/6", "/events/4", "/streams/s-1/state", "/streams/s-1/state?version=5",
		"/streams/s-1/diff?from=v:1&to=v:6", "/streams/s-1/export.csv", "/streams/s-1/export.json", "/events/4/raw?part=payload"} {
		for _, accept := range []string{"text/html", "application/json"} {
			if rec := b.get(path, accept); rec.Code != http.StatusOK {
				t.Errorf("GET %s (%s): %d %.300s", path, accept, rec.Code, rec.Body.String())
			}
		}
	}
}
