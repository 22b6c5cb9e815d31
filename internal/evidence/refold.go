package evidence

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
)

// pgTimestampLayout is PostgreSQL's ISO text output of a timestamptz with
// TimeZone UTC, as the canonical form holds it.
const pgTimestampLayout = "2006-01-02 15:04:05.999999-07"

// refold folds the bundle's events onto its state at the window's start
// and compares the result with its state at the end. It returns what was
// concluded ("" when the states match) or why it did not fold: the
// reducers the bundle was folded with (Query.Reducers) must be the
// folder's, or a re-fold would prove nothing either way.
func refold(b *Bundle, folder *timetravel.Folder) (mismatch, skipped string) {
	if folder == nil {
		return "", "no reducers given"
	}
	if fp := folder.Config().Fingerprint(); fp != b.Query.Reducers {
		return "", fmt.Sprintf("the bundle was folded with reducers %.12s, these are %.12s (pass the same --config)", b.Query.Reducers, fp)
	}
	st := timetravel.NewState(b.Query.StreamID, b.Query.StreamType)
	st.Version, st.At, st.Data = b.States.From.Version, b.States.From.At, b.States.From.Data
	if st.Data == nil {
		st.Data = map[string]any{}
	}
	for i := range b.Events {
		ev, err := b.Events[i].event(b.Query.StreamType)
		if err != nil {
			return "", fmt.Sprintf("event at position %d cannot be folded: %v", b.Events[i].Position, err)
		}
		folder.Apply(st, &ev)
	}
	to := b.States.To.Data
	if to == nil {
		to = map[string]any{}
	}
	if st.Version != b.States.To.Version || !timetravel.JSONEqual(st.Data, to) {
		return fmt.Sprintf("the state at v%d does not match the events folded onto the state at v%d (a state was altered)", b.States.To.Version, b.States.From.Version), ""
	}
	return "", ""
}

// event is the bundle's event as the folder reads it.
func (e *Event) event(streamType string) (eventstore.Event, error) {
	out := eventstore.Event{Position: e.Position, StreamID: e.StreamID, StreamType: streamType, EventType: e.EventType,
		Payload: json.RawMessage(e.Payload), Metadata: json.RawMessage(e.Metadata)}
	var err error
	if out.Version, err = strconv.Atoi(e.Version); err != nil {
		return out, fmt.Errorf("version %q", e.Version)
	}
	if out.SchemaVersion, err = strconv.Atoi(e.SchemaVersion); err != nil {
		return out, fmt.Errorf("schema version %q", e.SchemaVersion)
	}
	if out.RecordedAt, err = time.Parse(pgTimestampLayout, e.RecordedAt); err != nil {
		return out, fmt.Errorf("recorded_at %q", e.RecordedAt)
	}
	return out, nil
}
