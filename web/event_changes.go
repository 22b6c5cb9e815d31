// Per-event changes: the state before a page of events and what each event
// of it changed, shared by the timeline and the event detail page.

package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// stateAfter returns the stream's state after version v (the empty state for
// v = 0), for the per-event changes of a page that starts at v+1. The
// service answers from its newest snapshot at or before v plus the tail, so
// a page at depth 100,000 costs what a page at depth 100 costs.
func (s *Server) stateAfter(ctx context.Context, si eventstore.StreamInfo, v int) (*timetravel.State, error) {
	if v <= 0 {
		return timetravel.NewState(si.StreamID, si.StreamType), nil
	}
	return s.deps.TimeTravel.StateOf(ctx, si, timetravel.AtVersion(v))
}

// changeRow is one per-event change in JSON.
type changeRow struct {
	Path string `json:"path"`
	Op   string `json:"op"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// stepRows folds events (ascending, starting right after st) into st and
// returns each event's row with what it changed, its fold errors and its
// upcast payload, plus the same for JSON.
func (s *Server) stepRows(st *timetravel.State, events []eventstore.Event, showStream bool) ([]views.EventRow, []timelineEvent) {
	f := s.deps.TimeTravel.Folder()
	rows := make([]views.EventRow, len(events))
	out := make([]timelineEvent, len(events))
	for i := range events {
		ev := &events[i]
		row := eventRow(ev, showStream)
		te := timelineEvent{Event: *ev, Changes: []changeRow{}}
		if st != nil {
			nErr := len(st.Errors)
			for _, ch := range f.Step(st, ev) {
				row.Changes = append(row.Changes, views.Change{
					Path: ch.Path, Op: ch.Op, Old: jsonText(ch.Old), New: jsonText(ch.New),
					Version: ch.Version, EventType: ch.EventType, Actor: ch.Actor, At: ch.RecordedAt,
				})
				te.Changes = append(te.Changes, changeRow{Path: ch.Path, Op: ch.Op, Old: ch.Old, New: ch.New})
			}
			var msgs []string
			for _, fe := range st.Errors[min(nErr, len(st.Errors)):] {
				if fe.Version == ev.Version {
					msgs = append(msgs, foldErrorText(fe))
				}
			}
			if len(msgs) > 0 {
				row.FoldError = strings.Join(msgs, "; ")
				te.FoldErrors = msgs
			}
		}
		// The upcast payload is shown only when upcasters changed something.
		if p, sv, err := f.Upcast(ev); err == nil && sv != max(ev.SchemaVersion, 1) {
			if pretty := views.PrettyJSON(p); pretty != row.Payload {
				row.UpcastPayload = pretty
				te.UpcastPayload = p
				te.UpcastSchemaVersion = sv
			}
		}
		rows[i] = row
		out[i] = te
	}
	return rows, out
}

// timelineEvent is one event of the timeline in JSON, with its changes.
type timelineEvent struct {
	eventstore.Event
	Changes             []changeRow     `json:"changes"`
	FoldErrors          []string        `json:"fold_errors,omitempty"`
	UpcastPayload       json.RawMessage `json:"upcast_payload,omitempty"`
	UpcastSchemaVersion int             `json:"upcast_schema_version,omitempty"`
}

// foldErrorText is a fold error as the row shows it.
func foldErrorText(fe timetravel.FoldError) string {
	switch fe.Stage {
	case timetravel.StageRule:
		return fmt.Sprintf("rule %d (%s %s): %s", fe.Rule, fe.Op, fe.Path, fe.Message)
	default:
		return fe.Stage + ": " + fe.Message
	}
}

// jsonText renders a state value as compact JSON for the change list,
// shortened to 300 characters.
func jsonText(v any) string {
	r := []rune(timetravel.JSONText(v))
	if len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return string(r)
}
