package web

import (
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// eventRow is the one view model builder for an event row: the timeline, the
// global log and the live fragments all use it.
func eventRow(e *eventstore.Event, showStream bool) views.EventRow {
	// Metadata written by other applications may hold non-string values under
	// these keys; a row still renders, with those fields empty.
	m := e.Meta()
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
