package web

import (
	"encoding/json"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// eventMeta is the subset of metadata keys rows show. Decoded once per event.
type eventMeta struct {
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	Actor         string `json:"actor"`
	Source        string `json:"source"`
}

// eventRow is the one view model builder for an event row: the timeline, the
// global log and the live fragments all use it.
func eventRow(e *eventstore.Event, showStream bool) views.EventRow {
	var m eventMeta
	// Metadata written by other applications may hold non-string values under
	// these keys; a row still renders, with those fields empty.
	_ = json.Unmarshal(e.Metadata, &m)
	return views.EventRow{
		Position:      e.Position,
		EventID:       e.EventID,
		StreamID:      e.StreamID,
		StreamType:    e.StreamType,
		Version:       e.Version,
		EventType:     e.EventType,
		SchemaVersion: e.SchemaVersion,
		RecordedAt:    e.RecordedAt,
		Actor:         m.Actor,
		Source:        m.Source,
		CorrelationID: m.CorrelationID,
		CausationID:   m.CausationID,
		Payload:       views.PrettyJSON(e.Payload),
		Metadata:      views.PrettyJSON(e.Metadata),
		ShowStream:    showStream,
	}
}

func eventRows(events []eventstore.Event, showStream bool) []views.EventRow {
	out := make([]views.EventRow, len(events))
	for i := range events {
		out[i] = eventRow(&events[i], showStream)
	}
	return out
}
