package live

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/eventstore"
)

// relKind is what a replicated relation is to us.
type relKind uint8

const (
	relOther relKind = iota
	relEvents
	relCheckpoints
)

// relation is a cached Relation message: the column order of a table as the
// publisher sends it. The cache belongs to one connection: after a reconnect
// the server sends Relation messages again and relation ids may differ.
type relation struct {
	kind relKind
	name string
	cols map[string]int
}

func newRelation(m *pglogrepl.RelationMessage, eventsTable, checkpointsTable string) *relation {
	r := &relation{name: m.Namespace + "." + m.RelationName, cols: make(map[string]int, len(m.Columns))}
	for i, c := range m.Columns {
		r.cols[c.Name] = i
	}
	switch {
	case m.Namespace == "public" && m.RelationName == eventsTable:
		r.kind = relEvents
	case m.Namespace == "public" && m.RelationName == checkpointsTable:
		r.kind = relCheckpoints
	}
	return r
}

// col returns the text of column name in t, and whether it is non-null.
func (r *relation) col(t *pglogrepl.TupleData, name string) ([]byte, bool) {
	i, ok := r.cols[name]
	if !ok || t == nil || i >= len(t.Columns) {
		return nil, false
	}
	c := t.Columns[i]
	if c.DataType != pglogrepl.TupleDataTypeText {
		return nil, false
	}
	return c.Data, true
}

func (r *relation) int64Col(t *pglogrepl.TupleData, name string) (int64, error) {
	b, ok := r.col(t, name)
	if !ok {
		return 0, fmt.Errorf("column %s is missing or null", name)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("column %s: %w", name, err)
	}
	return n, nil
}

func (r *relation) stringCol(t *pglogrepl.TupleData, name string) (string, error) {
	b, ok := r.col(t, name)
	if !ok {
		return "", fmt.Errorf("column %s is missing or null", name)
	}
	return string(b), nil
}

func (r *relation) timeCol(t *pglogrepl.TupleData, name string) (time.Time, error) {
	b, ok := r.col(t, name)
	if !ok {
		return time.Time{}, fmt.Errorf("column %s is missing or null", name)
	}
	return parseTimestamptz(string(b))
}

// parseTimestamptz reads timestamptz output with DateStyle ISO, which the
// consumer sets on its connection (TimeZone UTC), e.g.
// "2026-11-23 15:31:32.123456+00".
func parseTimestamptz(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable timestamptz %q", s)
}

// decodeEvent turns an events row (text format) into an Event.
func (r *relation) decodeEvent(t *pglogrepl.TupleData) (eventstore.Event, error) {
	var e eventstore.Event
	var err error
	var version, schemaVersion int64
	var payload, metadata string
	if e.Position, err = r.int64Col(t, "position"); err != nil {
		return e, err
	}
	if e.EventID, err = r.stringCol(t, "event_id"); err != nil {
		return e, err
	}
	if e.StreamID, err = r.stringCol(t, "stream_id"); err != nil {
		return e, err
	}
	if e.StreamType, err = r.stringCol(t, "stream_type"); err != nil {
		return e, err
	}
	if version, err = r.int64Col(t, "version"); err != nil {
		return e, err
	}
	if e.EventType, err = r.stringCol(t, "event_type"); err != nil {
		return e, err
	}
	if schemaVersion, err = r.int64Col(t, "schema_version"); err != nil {
		return e, err
	}
	if payload, err = r.stringCol(t, "payload"); err != nil {
		return e, err
	}
	if metadata, err = r.stringCol(t, "metadata"); err != nil {
		return e, err
	}
	if e.RecordedAt, err = r.timeCol(t, "recorded_at"); err != nil {
		return e, err
	}
	e.Version = int(version)
	e.SchemaVersion = int(schemaVersion)
	e.Payload = json.RawMessage(payload)
	e.Metadata = json.RawMessage(metadata)
	return e, nil
}

// decodeCheckpoint turns a projection_checkpoints row into a Checkpoint.
func (r *relation) decodeCheckpoint(t *pglogrepl.TupleData) (Checkpoint, error) {
	var cp Checkpoint
	var err error
	var errCount int64
	if cp.Projection, err = r.stringCol(t, "projection"); err != nil {
		return cp, err
	}
	if cp.Position, err = r.int64Col(t, "position"); err != nil {
		return cp, err
	}
	if cp.UpdatedAt, err = r.timeCol(t, "updated_at"); err != nil {
		return cp, err
	}
	if errCount, err = r.int64Col(t, "error_count"); err != nil {
		return cp, err
	}
	cp.ErrorCount = int(errCount)
	if b, ok := r.col(t, "last_error"); ok {
		s := string(b)
		cp.LastError = &s
	}
	return cp, nil
}

// canonicalEvent is an events row as the witness ledger hashes it: the
// text pgoutput sent, which is PostgreSQL's output of the stored values
// (the connection's TimeZone UTC and DateStyle ISO fix the timestamp's).
func (r *relation) canonicalEvent(t *pglogrepl.TupleData) eventstore.CanonicalEvent {
	text := func(name string) []byte { b, _ := r.col(t, name); return b }
	return eventstore.CanonicalEvent{
		StreamID: text("stream_id"), Version: text("version"), EventType: text("event_type"), SchemaVersion: text("schema_version"),
		Payload: text("payload"), Metadata: text("metadata"), RecordedAt: text("recorded_at"),
	}
}
