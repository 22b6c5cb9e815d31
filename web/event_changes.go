// Per-event changes: the state before a page of events and what each event
// of it changed, shared by the timeline and the event detail page.

package web

import (
	"time"

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

// eventStep is one event folded: what it changed in the state, the fold
// errors it caused and, when upcasters changed it, its upcast payload.
type eventStep struct {
	event               *eventstore.Event
	changes             []timetravel.Change
	foldErrors          []string
	upcastPayload       json.RawMessage
	upcastSchemaVersion int
	// backdated is how long before its commit the event was recorded, when
	// past the threshold (web/backdated.go); 0: not flagged.
	backdated time.Duration
}

// eventSteps folds events (ascending, starting right after st) into st; a
// nil st gives the steps without changes.
func (s *Server) eventSteps(st *timetravel.State, events []eventstore.Event) []eventStep {
	f := s.deps.TimeTravel.Folder()
	steps := make([]eventStep, len(events))
	for i := range events {
		ev := &events[i]
		step := eventStep{event: ev}
		if st != nil {
			nErr := len(st.Errors)
			step.changes = f.Step(st, ev)
			for _, fe := range st.Errors[min(nErr, len(st.Errors)):] {
				if fe.Version == ev.Version {
					step.foldErrors = append(step.foldErrors, foldErrorText(fe))
				}
			}
		}
		// The upcast payload is shown only when upcasters changed something.
		if p, sv, err := f.Upcast(ev); err == nil && sv != max(ev.SchemaVersion, 1) {
			if views.PrettyJSON(p) != views.PrettyJSON(ev.Payload) {
				step.upcastPayload, step.upcastSchemaVersion = p, sv
			}
		}
		steps[i] = step
	}
	return steps
}

// stepJSON is a step as the JSON lists it.
func stepJSON(step eventStep) timelineEvent {
	te := timelineEvent{Event: *step.event, Changes: make([]changeRow, len(step.changes)),
		FoldErrors: step.foldErrors, UpcastPayload: step.upcastPayload, UpcastSchemaVersion: step.upcastSchemaVersion,
		BackdatedSeconds: step.backdated.Seconds()}
	for i, ch := range step.changes {
		te.Changes[i] = changeRow{Path: ch.Path, Op: ch.Op, Old: ch.Old, New: ch.New}
	}
	return te
}

func stepsJSON(steps []eventStep) []timelineEvent {
	out := make([]timelineEvent, len(steps))
	for i := range steps {
		out[i] = stepJSON(steps[i])
	}
	return out
}

// Changes listed per event row: a timeline row summarises, the event's
// own page lists more; the JSON has them all.
const (
	maxRowChanges    = 50
	maxDetailChanges = 1000
)

// stepRow is a step as an event row shows it, listing at most maxChanges
// of its changes, within the page's budget b.
func stepRow(step eventStep, showStream bool, b *pageBudget, maxChanges int) views.EventRow {
	row := eventRow(step.event, showStream, b)
	row.Backdated = step.backdated
	for i, ch := range step.changes {
		if i >= maxChanges || b.left <= 0 {
			row.ChangesHidden = len(step.changes) - i
			break
		}
		c := views.Change{Path: ch.Path, Op: ch.Op, Old: jsonText(ch.Old), New: jsonText(ch.New), Masked: isMask(ch.Old) || isMask(ch.New),
			Version: ch.Version, EventType: ch.EventType, Actor: ch.Actor, At: ch.RecordedAt}
		c.Path, _ = b.preview(c.Path)
		c.Old, _ = b.preview(c.Old)
		c.New, _ = b.preview(c.New)
		row.Changes = append(row.Changes, c)
	}
	row.FoldError = strings.Join(step.foldErrors, "; ")
	if step.upcastPayload != nil {
		row.UpcastPayload, row.UpcastCut = previewJSON(step.upcastPayload, b)
	}
	return row
}

func stepRows(steps []eventStep, showStream bool, b *pageBudget) []views.EventRow {
	out := make([]views.EventRow, len(steps))
	for i := range steps {
		out[i] = stepRow(steps[i], showStream, b, maxRowChanges)
	}
	return out
}

// timelineEvent is one event of the timeline in JSON, with its changes.
type timelineEvent struct {
	eventstore.Event
	Changes             []changeRow     `json:"changes"`
	FoldErrors          []string        `json:"fold_errors,omitempty"`
	UpcastPayload       json.RawMessage `json:"upcast_payload,omitempty"`
	UpcastSchemaVersion int             `json:"upcast_schema_version,omitempty"`
	// BackdatedSeconds: recorded this long before it committed (flagged).
	BackdatedSeconds float64 `json:"backdated_seconds,omitempty"`
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
