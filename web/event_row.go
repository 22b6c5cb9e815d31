package web

import (
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// eventRow is the one view model builder for an event row: the timeline, the
// global log and the live fragments all use it. Its payload and metadata
// are previews within the page's budget b.
func eventRow(e *eventstore.Event, showStream bool, b *pageBudget) views.EventRow {
	// Metadata written by other applications may hold non-string values under
	// these keys; a row still renders, with those fields empty.
	m := e.Meta()
	actor, _ := metaText(m.Actor)
	source, _ := metaText(m.Source)
	row := views.EventRow{
		Position:      e.Position,
		Ref:           e.Ref(),
		EventID:       e.EventID,
		StreamID:      e.StreamID,
		StreamType:    e.StreamType,
		Version:       e.Version,
		EventType:     e.EventType,
		SchemaVersion: e.SchemaVersion,
		RecordedAt:    e.RecordedAt,
		Actor:         actor,
		Source:        source,
		CorrelationID: m.CorrelationID,
		CausationID:   m.CausationID,
		ShowStream:    showStream,
		PayloadBytes:  len(e.Payload),
		MetadataBytes: len(e.Metadata),
	}
	row.Payload, row.PayloadCut = previewJSON(e.Payload, b)
	row.Metadata, row.MetadataCut = previewJSON(e.Metadata, b)
	return row
}

// previewJSON is raw pretty-printed, within the budget b.
func previewJSON(raw []byte, b *pageBudget) (string, bool) {
	if b.left <= 0 {
		// Nothing left to show: skip indenting what would be cut whole.
		return "", len(raw) > 0
	}
	text, cut := b.preview(views.PrettyJSON(raw))
	return ellipsis(text, cut), cut
}

func eventRows(events []eventstore.Event, showStream bool, b *pageBudget) []views.EventRow {
	out := make([]views.EventRow, len(events))
	for i := range events {
		out[i] = eventRow(&events[i], showStream, b)
	}
	return out
}
