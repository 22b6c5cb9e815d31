package live

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	src  *eventstore.LiveSource
}

func newRelation(m *pglogrepl.RelationMessage, src *eventstore.LiveSource) *relation {
	r := &relation{name: m.Namespace + "." + m.RelationName, cols: make(map[string]int, len(m.Columns)), src: src}
	for i, c := range m.Columns {
		r.cols[c.Name] = i
	}
	switch {
	case m.Namespace == src.Namespace && m.RelationName == src.Name:
		r.kind = relEvents
	case src.Checkpoints != nil && m.Namespace == src.Checkpoints.Namespace && m.RelationName == src.Checkpoints.Name:
		r.kind = relCheckpoints
	}
	return r
}

// keeps reports whether the row is one the read path reads (the source's
// where and exclude_streams).
func (r *relation) keeps(t *pglogrepl.TupleData, e *eventstore.Event) bool {
	return r.src.Keeps(e.StreamID, func(column string) ([]byte, bool) { return r.col(t, column) })
}

// event is the table's column holding the logical event column name ("":
// none).
func (r *relation) event(name string) string { return r.src.Columns[name] }

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

// decodeEvent turns an events row (text format) into an Event, through the
// source's column names; what the table has no column for is filled as the
// read path fills it. A numbered version (no version column) is left 0 for
// the consumer to number.
func (r *relation) decodeEvent(t *pglogrepl.TupleData) (eventstore.Event, error) {
	var e eventstore.Event
	var err error
	var payload, metadata string
	if !r.src.NoPosition {
		if e.Position, err = r.int64Col(t, r.event("position")); err != nil {
			return e, err
		}
	}
	if e.EventID, err = r.stringCol(t, r.event("event_id")); err != nil {
		return e, err
	}
	if e.StreamID, err = r.stringCol(t, r.event("stream_id")); err != nil {
		return e, err
	}
	switch {
	case r.event("stream_type") != "":
		if e.StreamType, err = r.stringCol(t, r.event("stream_type")); err != nil {
			return e, err
		}
	case r.src.SplitStreamType != "":
		e.StreamType, _, _ = strings.Cut(e.StreamID, r.src.SplitStreamType)
	default:
		e.StreamType = r.src.StreamType
	}
	if !r.src.NumberedVersions {
		version, err := r.int64Col(t, r.event("version"))
		if err != nil {
			return e, err
		}
		e.Version = int(version)
	}
	if e.EventType, err = r.stringCol(t, r.event("event_type")); err != nil {
		return e, err
	}
	e.SchemaVersion = 1
	if c := r.event("schema_version"); c != "" {
		v, err := r.int64Col(t, c)
		if err != nil {
			return e, err
		}
		e.SchemaVersion = int(v)
	}
	if payload, err = r.stringCol(t, r.event("payload")); err != nil {
		return e, err
	}
	metadata = "{}"
	if c := r.event("metadata"); c != "" {
		if metadata, err = r.stringCol(t, c); err != nil {
			return e, err
		}
	}
	b, ok := r.col(t, r.event("recorded_at"))
	if !ok {
		return e, fmt.Errorf("column %s is missing or null", r.event("recorded_at"))
	}
	if loc := r.src.Location; loc != nil {
		// A timestamp without time zone means a time in the source's zone.
		e.RecordedAt, err = time.ParseInLocation("2006-01-02 15:04:05.999999999", string(b), loc)
	} else {
		e.RecordedAt, err = parseTimestamptz(string(b))
	}
	if err != nil {
		return e, fmt.Errorf("column %s: %w", r.event("recorded_at"), err)
	}
	e.Payload = json.RawMessage(payload)
	e.Metadata = json.RawMessage(metadata)
	r.src.Tag(&e)
	return e, nil
}

// decodeCheckpoint turns a checkpoints row into a Checkpoint, through the
// source's column names.
func (r *relation) decodeCheckpoint(t *pglogrepl.TupleData) (Checkpoint, error) {
	var cp Checkpoint
	var err error
	cols := r.src.Checkpoints.Columns
	if cp.Projection, err = r.stringCol(t, cols["name"]); err != nil {
		return cp, err
	}
	if cp.Position, err = r.int64Col(t, cols["position"]); err != nil {
		return cp, err
	}
	if c := cols["updated_at"]; c != "" {
		b, ok := r.col(t, c)
		if !ok {
			return cp, fmt.Errorf("column %s is missing or null", c)
		}
		if cp.UpdatedAt, err = parseTimestamp(string(b)); err != nil {
			return cp, fmt.Errorf("column %s: %w", c, err)
		}
	}
	if c := cols["error_count"]; c != "" {
		n, err := r.int64Col(t, c)
		if err != nil {
			return cp, err
		}
		cp.ErrorCount = int(n)
	}
	if b, ok := r.col(t, cols["last_error"]); ok && cols["last_error"] != "" {
		s := string(b)
		cp.LastError = &s
	}
	return cp, nil
}

// parseTimestamp reads a timestamptz, or a timestamp without time zone
// as UTC (a checkpoint's updated_at only dates the row).
func parseTimestamp(s string) (time.Time, error) {
	if t, err := parseTimestamptz(s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02 15:04:05.999999999", s)
}

// canonicalEvent is an events row as the witness ledger hashes it: the
// text pgoutput sent, which is PostgreSQL's output of the stored values
// (the connection's TimeZone UTC and DateStyle ISO fix the timestamp's).
// What the table has no column for is the text the canonical read gives
// it (eventstore.Store.ScanStreamCanonical): "1", "{}", the numbered
// version.
func (r *relation) canonicalEvent(t *pglogrepl.TupleData, e *eventstore.Event) eventstore.CanonicalEvent {
	text := func(name, missing string) []byte {
		if c := r.event(name); c != "" {
			b, _ := r.col(t, c)
			return b
		}
		return []byte(missing)
	}
	return eventstore.CanonicalEvent{
		StreamID: text("stream_id", ""), Version: text("version", strconv.Itoa(e.Version)), EventType: text("event_type", ""),
		SchemaVersion: text("schema_version", "1"), Payload: text("payload", ""), Metadata: text("metadata", "{}"),
		RecordedAt: text("recorded_at", ""),
	}
}
