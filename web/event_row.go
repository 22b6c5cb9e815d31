package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/timetravel"
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
		Problems:      e.Problems,
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
	// Key fields come from the payload the row shows (masked, when masking
	// applies), never from a second read.
	row.KeyFields = keyFields(e.EventType, e.Payload, b)
	if row.CorrelationID == pii.Mask {
		row.CorrelationID = "" // masked: no link searching by it
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

// Key fields: what a row shows of its payload at a glance, so that a
// 500.00 annual fee does not look like the 1.50 fees around it.
const (
	// defaultKeyFields is how many of a payload's first scalar members a
	// row shows for an event type the configuration does not name.
	defaultKeyFields = 3
	// maxKeyFieldText bounds one key field's value on a row.
	maxKeyFieldText = 80
	// maxKeyFieldDecode is the largest payload decoded whole for the
	// configured fields; the first scalars of a larger one are still read
	// token by token.
	maxKeyFieldDecode = 1 << 20
)

// keyFields picks an event's key payload fields: those the configuration's
// "display" section names for its type (JSON pointers), or else the first
// defaultKeyFields scalar members of the payload, in the payload's order.
func keyFields(eventType string, payload []byte, b *pageBudget) []views.KeyField {
	if len(payload) == 0 || b.left <= 0 {
		return nil
	}
	var out []views.KeyField
	add := func(name string, v any) {
		text := keyFieldText(v)
		text, cut := b.preview(text)
		out = append(out, views.KeyField{Name: name, Value: ellipsis(text, cut)})
	}
	if b.display != nil {
		if paths, ok := b.display(eventType); ok {
			if len(payload) > maxKeyFieldDecode {
				return nil
			}
			doc, err := timetravel.DecodeJSON(payload)
			if err != nil {
				return nil
			}
			for _, p := range paths {
				ptr, err := timetravel.ParsePointer(p)
				if err != nil {
					continue
				}
				if v, err := ptr.Get(doc); err == nil {
					add(pointerName(p), v)
				}
			}
			return out
		}
	}
	for _, m := range firstScalars(payload, defaultKeyFields) {
		add(m.name, m.value)
	}
	return out
}

// keyFieldText is a value as a row shows it: strings without quotes,
// anything else as compact JSON, cut to maxKeyFieldText characters.
func keyFieldText(v any) string {
	text, ok := v.(string)
	if !ok {
		text = jsonText(v)
	}
	if r := []rune(text); len(r) > maxKeyFieldText {
		text = string(r[:maxKeyFieldText]) + "…"
	}
	return text
}

type member struct {
	name  string
	value any
}

// firstScalars reads the first n scalar members of a JSON object, in the
// order written, token by token: a 5 MB payload costs what its first
// members do. Objects and arrays are skipped.
func firstScalars(payload []byte, n int) []member {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []member
	for len(out) < n && dec.More() {
		k, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := k.(string)
		t, err := dec.Token()
		if err != nil {
			return out
		}
		if _, ok := t.(json.Delim); ok {
			if err := skipValue(dec); err != nil {
				return out
			}
			continue
		}
		out = append(out, member{name: name, value: t})
	}
	return out
}

// skipValue reads past the rest of the object or array just opened.
func skipValue(dec *json.Decoder) error {
	depth := 1
	for depth > 0 {
		t, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if strings.ContainsRune("{[", rune(d)) {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}
