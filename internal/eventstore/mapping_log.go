package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// logKey is a place in the global log of a table without a position: the
// event's time, stream and version, the log's order there.
type logKey struct {
	at       time.Time
	streamID string
	version  int
}

// HasPosition reports whether the source has a global position. Without
// one (seed 004) events are addressed by event id and the log's cursors
// are LogKey strings.
func (s *Store) HasPosition() bool { return !s.sc.noPosition }

// LogKey is e's place in the global log as a cursor: its position, or for a
// table without one "<unix µs>.<version>.<stream id>". Keys of the same
// event are the same whatever page it is on: pagination is stable.
func (s *Store) LogKey(e *Event) string {
	if !s.sc.noPosition {
		return strconv.FormatInt(e.Position, 10)
	}
	return strconv.FormatInt(e.RecordedAt.UnixMicro(), 10) + "." + strconv.Itoa(e.Version) + "." + e.StreamID
}

// Ref is e's address, the {key} of /events/{key}: its position, or its
// event id when the source has no position.
func (e *Event) Ref() string {
	if e.Position > 0 {
		return strconv.FormatInt(e.Position, 10)
	}
	return e.EventID
}

// parseLogKey reads a LogKey of a table without a position.
func (s *Store) parseLogKey(raw string) (logKey, error) {
	micros, rest, ok1 := strings.Cut(raw, ".")
	version, stream, ok2 := strings.Cut(rest, ".")
	us, err1 := strconv.ParseInt(micros, 10, 64)
	v, err2 := strconv.Atoi(version)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || v < 0 || stream == "" || !s.sc.accept("stream_id", stream) {
		return logKey{}, fmt.Errorf("%w: %q is not a place in the log (time.version.stream)", ErrInvalidCursor, raw)
	}
	return logKey{at: time.UnixMicro(us).UTC(), streamID: stream, version: v}, nil
}

// logCursor adds a LogQuery's string cursor (AfterKey or BeforeKey) to w.
// A source with a position takes the position as text.
func (s *Store) logCursor(w *predicates, q *LogQuery) error {
	raw, op := q.AfterKey, ">"
	if raw == "" {
		raw, op = q.BeforeKey, "<"
	}
	if raw == "" {
		return nil
	}
	if !s.sc.noPosition {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: %q is not an event position", ErrInvalidCursor, raw)
		}
		w.cmp("position", op, n)
		return nil
	}
	k, err := s.parseLogKey(raw)
	if err != nil {
		return err
	}
	w.logAfter(op, k)
	return nil
}

// ParseEventRef reads a /events/{key}: a position (digits only, when the
// source has positions) or an event id of the column's own type (a UUID is
// answered in lower case). Anything else is ErrInvalidEventRef. It reads
// no database.
func (s *Store) ParseEventRef(ref string) (pos int64, eventID string, err error) {
	if !s.sc.noPosition && ref != "" && strings.Trim(ref, "0123456789") == "" {
		if pos, err := strconv.ParseInt(ref, 10, 64); err == nil && pos > 0 {
			return pos, "", nil
		}
		if s.sc.accepts["event_id"] == nil || IsEventID(ref) {
			// Digits that are no position are no event id either
			// (of a text column: they would shadow positions).
			return 0, "", fmt.Errorf("%w: %q", ErrInvalidEventRef, ref)
		}
	}
	if strings.TrimSpace(ref) == "" || !s.sc.accept("event_id", ref) {
		return 0, "", fmt.Errorf("%w: %q is no event position or event id", ErrInvalidEventRef, ref)
	}
	if IsEventID(ref) {
		ref = strings.ToLower(ref)
	}
	return 0, ref, nil
}

// EventByRef reads the event a /events/{key} names (ParseEventRef).
// canonical is the event's Ref, which a caller may redirect to.
func (s *Store) EventByRef(ctx context.Context, ref string) (ev Event, canonical string, err error) {
	pos, id, err := s.ParseEventRef(ref)
	switch {
	case err != nil:
		return ev, "", err
	case id != "":
		ev, err = s.EventByID(ctx, id)
	default:
		ev, err = s.Event(ctx, pos)
	}
	return ev, ev.Ref(), err
}

// ErrInvalidEventRef is a /events/{key} that can be no event's address.
var ErrInvalidEventRef = fmt.Errorf("eventstore: not an event address")
