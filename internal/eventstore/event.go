// Package eventstore owns the SQL on the event store's `events` table:
// appends and imports, stream and log reads, search, correlation and the
// head, and the per-type event counts auditd keeps of what it reads
// (auditd.event_counts, FoldCounts).
package eventstore

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Metadata keys with a meaning to auditd. Writers in any language set them in
// the `metadata` jsonb column.
const (
	MetaCorrelationID = "correlation_id"
	MetaCausationID   = "causation_id"
	MetaActor         = "actor"
	MetaSource        = "source"
)

// Event is one committed row of the `events` table.
type Event struct {
	Position      int64           `json:"position"`
	EventID       string          `json:"event_id"`
	StreamID      string          `json:"stream_id"`
	StreamType    string          `json:"stream_type"`
	Version       int             `json:"version"`
	EventType     string          `json:"event_type"`
	SchemaVersion int             `json:"schema_version"`
	Payload       json.RawMessage `json:"payload"`
	Metadata      json.RawMessage `json:"metadata"`
	RecordedAt    time.Time       `json:"recorded_at"`
	// Problems are what is wrong with the row as an application's table
	// holds it (a NULL stream id, a payload that is not JSON, a version
	// seen twice or skipped, a time going backwards): the event is shown
	// and flagged, never a failed page.
	Problems []string `json:"problems,omitempty"`

	// metaKeys names the metadata keys Meta reads when the event comes
	// from a source that names them otherwise; nil: auditd's own names.
	metaKeys *MetaKeys
}

// MetaKeys are the keys of an event's metadata that hold the values auditd
// reads (Meta), as a source mapping names them.
type MetaKeys struct {
	CorrelationID, CausationID, Actor, Source string
}

// Meta is what auditd reads from an event's metadata: the keys with a
// meaning to it.
type Meta struct {
	CorrelationID string
	CausationID   string
	Actor         string // who caused the event
	Source        string // which API, job or tool wrote it
}

// Meta decodes the metadata keys auditd reads, in one pass. Metadata written
// by other applications may hold non-string values under these keys, or be
// no JSON object at all: those keys read as "". Callers that need several
// keys call it once.
func (e *Event) Meta() Meta {
	if len(e.Metadata) == 0 {
		return Meta{}
	}
	text := func(v any) string { s, _ := v.(string); return s }
	if k := e.metaKeys; k != nil {
		var m map[string]any
		if json.Unmarshal(e.Metadata, &m) != nil {
			return Meta{}
		}
		return Meta{CorrelationID: text(m[k.CorrelationID]), CausationID: text(m[k.CausationID]), Actor: text(m[k.Actor]), Source: text(m[k.Source])}
	}
	// Decoding into a struct skips every other key without building a map:
	// folds call this once per event of a history.
	var m struct {
		CorrelationID any `json:"correlation_id"`
		CausationID   any `json:"causation_id"`
		Actor         any `json:"actor"`
		Source        any `json:"source"`
	}
	if json.Unmarshal(e.Metadata, &m) != nil {
		return Meta{}
	}
	return Meta{CorrelationID: text(m.CorrelationID), CausationID: text(m.CausationID), Actor: text(m.Actor), Source: text(m.Source)}
}

// Actor is the `actor` metadata key: who caused the event.
func (e *Event) Actor() string { return e.Meta().Actor }

// Source is the `source` metadata key: which API, job or tool wrote it.
func (e *Event) Source() string { return e.Meta().Source }

// CorrelationID is the `correlation_id` metadata key.
func (e *Event) CorrelationID() string { return e.Meta().CorrelationID }

// CausationID is the `causation_id` metadata key: the event_id of the cause.
func (e *Event) CausationID() string { return e.Meta().CausationID }

// NewEvent is an event to append. EventID and RecordedAt are optional: the
// database fills them when empty (the demo generator sets them to build
// realistic histories and causation chains).
type NewEvent struct {
	EventID       string
	EventType     string
	SchemaVersion int // 0 means 1
	Payload       json.RawMessage
	Metadata      json.RawMessage // nil means {}
	RecordedAt    time.Time       // zero means clock_timestamp()
}

// ExpectedVersion values with special meaning for Append.
const (
	// AnyVersion skips the optimistic concurrency check.
	AnyVersion = -1
	// NoStream requires that the stream does not exist yet.
	NoStream = 0
)

// Typed errors. Callers match them with errors.Is / errors.As.
var (
	ErrEmptyStreamID   = errors.New("eventstore: stream id must not be empty")
	ErrEmptyStreamType = errors.New("eventstore: stream type must not be empty")
	ErrEmptyEventType  = errors.New("eventstore: event type must not be empty")
	ErrNoEvents        = errors.New("eventstore: no events to append")
	ErrStreamNotFound  = errors.New("eventstore: stream not found")
	ErrEventNotFound   = errors.New("eventstore: event not found")
	ErrInvalidPayload  = errors.New("eventstore: payload must be a JSON object")
	ErrInvalidMetadata = errors.New("eventstore: metadata must be a JSON object")
	ErrInvalidCursor   = errors.New("eventstore: invalid cursor")
)

// VersionConflictError is returned by Append when the stream's version is not
// the expected one. Exactly one of two concurrent appenders with the same
// expected version succeeds; the other gets this error.
type VersionConflictError struct {
	StreamID string
	Expected int
	Actual   int
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("eventstore: version conflict on stream %q: expected version %d, actual %d", e.StreamID, e.Expected, e.Actual)
}

// ErrVersionConflict matches any *VersionConflictError with errors.Is.
var ErrVersionConflict = errors.New("eventstore: version conflict")

// Is lets errors.Is(err, ErrVersionConflict) match.
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }

// NewEventID returns a random (version 4) UUID in its text form.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// IsEventID reports whether s is a UUID in the canonical 8-4-4-4-12 form.
func IsEventID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
