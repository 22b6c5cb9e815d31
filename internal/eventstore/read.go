package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxPageSize bounds every list read.
const MaxPageSize = 500

func pageSize(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, MaxPageSize)
}

// StreamQuery selects a page of one stream's events. Pages are keyset-paginated
// on version, so page 10,000 costs what page 1 costs.
type StreamQuery struct {
	StreamID string
	// Forward pages return versions > After in ascending order. Backward
	// pages return versions < Before (0: from the end) in descending order.
	Backward bool
	After    int
	Before   int
	Limit    int
	// Optional upper bounds: only events with version <= MaxVersion and
	// recorded_at <= Until.
	MaxVersion int
	Until      time.Time
}

// ReadStream reads one page of a stream. It returns ErrStreamNotFound when the
// stream has no events at all.
func (s *Store) ReadStream(ctx context.Context, q StreamQuery) ([]Event, error) {
	if strings.TrimSpace(q.StreamID) == "" {
		return nil, ErrEmptyStreamID
	}
	if q.After < 0 || q.Before < 0 || q.MaxVersion < 0 {
		return nil, fmt.Errorf("%w: negative version", ErrInvalidCursor)
	}
	if !s.sc.accept("stream_id", q.StreamID) {
		return nil, fmt.Errorf("%w: %q", ErrStreamNotFound, q.StreamID)
	}
	w := s.sc.where("")
	w.eq("stream_id", q.StreamID)
	order := "ASC"
	if q.Backward {
		order = "DESC"
		if q.Before > 0 {
			w.cmp("version", "<", q.Before)
		}
	} else if q.After > 0 {
		w.cmp("version", ">", q.After)
	}
	if q.MaxVersion > 0 {
		w.cmp("version", "<=", q.MaxVersion)
	}
	if !q.Until.IsZero() {
		w.cmp("recorded_at", "<=", q.Until)
	}
	sql := w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY {version} `+order) + s.sc.tieBreak(order) + ` LIMIT ` + w.arg(pageSize(q.Limit))
	events, err := s.queryEvents(ctx, fmt.Sprintf("stream %q", q.StreamID), sql, w.args)
	if err != nil {
		return nil, err
	}
	if s.sc.readOnly {
		flagSequence(events, q.Backward)
	}
	if len(events) == 0 {
		if _, err := s.Stream(ctx, q.StreamID); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// StreamInfo summarises one stream.
type StreamInfo struct {
	StreamID     string    `json:"stream_id"`
	StreamType   string    `json:"stream_type"`
	Version      int       `json:"version"`
	FirstAt      time.Time `json:"first_at"`
	LastAt       time.Time `json:"last_at"`
	LastType     string    `json:"last_event_type"`
	LastPosition int64     `json:"last_position"`
}

// streamInfoSQL reads a stream's first event (version 1) and, laterally, its
// last one; both are single index probes on (stream_id, version).
const streamInfoSQL = `
	SELECT {h.stream_id}, {h.stream_type}, l.version, {h.recorded_at_tz}, l.recorded_at, l.event_type, l.position
	FROM {events} h
	CROSS JOIN LATERAL (
		SELECT {version} AS version, {recorded_at_tz} AS recorded_at, {event_type} AS event_type, {position} AS position FROM {events}
		WHERE {stream_id} = {h.stream_id} ORDER BY {version} DESC LIMIT 1
	) l`

// scanStreamInfo reads one stream summary. An application's table may hold
// NULLs where auditd expects values: they read as empty values.
func scanStreamInfo(row pgx.Row, si *StreamInfo) error {
	var id, typ, last *string
	var version *int
	var first, lastAt *time.Time
	var pos *int64
	if err := row.Scan(&id, &typ, &version, &first, &lastAt, &last, &pos); err != nil {
		return err
	}
	*si = StreamInfo{StreamID: deref(id), StreamType: deref(typ), Version: deref(version), FirstAt: deref(first),
		LastAt: deref(lastAt), LastType: deref(last), LastPosition: deref(pos)}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Stream returns one stream's summary, or ErrStreamNotFound.
func (s *Store) Stream(ctx context.Context, streamID string) (StreamInfo, error) {
	var si StreamInfo
	if strings.TrimSpace(streamID) == "" {
		return si, ErrEmptyStreamID
	}
	if !s.sc.accept("stream_id", streamID) {
		return si, fmt.Errorf("%w: %q", ErrStreamNotFound, streamID)
	}
	err := scanStreamInfo(s.db.QueryRow(ctx, s.sc.expand(streamInfoSQL+` WHERE {h.stream_id} = $1{cast:stream_id} AND {h.version} = 1`), streamID), &si)
	if errors.Is(err, pgx.ErrNoRows) {
		return si, fmt.Errorf("%w: %q", ErrStreamNotFound, streamID)
	}
	if err != nil {
		return si, fmt.Errorf("eventstore: unable to read stream %q: %w", streamID, err)
	}
	return si, nil
}

// StreamListQuery selects a page of streams ordered by id (byte order).
type StreamListQuery struct {
	Prefix     string // stream id prefix
	StreamType string
	After      string // keyset cursor: the last stream id of the previous page
	Limit      int
}

// likePrefix escapes LIKE wildcards so that a user's prefix matches literally.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// ListStreams lists streams by id. A stream is listed through its first event
// (version = 1); the partial index on those rows keeps every page an index
// range scan. Ids are compared in byte order (COLLATE "C") so a prefix is
// one contiguous index range under any database collation.
func (s *Store) ListStreams(ctx context.Context, q StreamListQuery) ([]StreamInfo, error) {
	w := s.sc.where("h")
	w.cond("{version} = 1")
	if q.Prefix != "" {
		w.streamIDPrefix(q.Prefix)
	}
	if q.StreamType != "" {
		w.eq("stream_type", q.StreamType)
	}
	if q.After != "" {
		w.streamIDCmp(">", q.After)
	}
	sql := w.in(streamInfoSQL+` WHERE {where} ORDER BY {h.stream_id}{collate}`) + ` LIMIT ` + w.arg(pageSize(q.Limit))
	return s.queryStreamInfos(ctx, sql, w.args)
}

// LogQuery selects a page of the global log. Filters combine with AND.
// Newest first by default; keyset-paginated on position.
type LogQuery struct {
	StreamID      string
	StreamPrefix  string // stream ids starting with it, exactly
	StreamType    string
	EventType     string
	CorrelationID string
	Actor         string
	From, To      time.Time // recorded_at range, inclusive; zero = open
	// Oldest-first pages return positions > After; newest-first pages
	// return positions < Before (0: from the head).
	OldestFirst bool
	After       int64
	Before      int64
	// AfterKey and BeforeKey are the same cursors as text (Store.LogKey),
	// the only ones a table without a position has; they win when set.
	AfterKey, BeforeKey string
	Limit               int
}

// ReadLog reads one page of the global log.
func (s *Store) ReadLog(ctx context.Context, q LogQuery) ([]Event, error) {
	if q.After < 0 || q.Before < 0 {
		return nil, fmt.Errorf("%w: negative position", ErrInvalidCursor)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return nil, fmt.Errorf("eventstore: time range ends before it starts")
	}
	if q.StreamID != "" && !s.sc.accept("stream_id", q.StreamID) {
		return []Event{}, nil // no stream has that id: no event matches
	}
	w := s.sc.where("")
	if q.StreamID != "" {
		w.eq("stream_id", q.StreamID)
	}
	if q.StreamPrefix != "" {
		w.streamIDPrefix(q.StreamPrefix)
	}
	if q.StreamType != "" {
		w.eq("stream_type", q.StreamType)
	}
	w.eventFilters(q.EventType, q.Actor, q.CorrelationID, q.From, q.To)
	order := "DESC"
	if q.OldestFirst {
		order = "ASC"
	}
	switch {
	case q.AfterKey != "" || q.BeforeKey != "":
		if err := s.logCursor(w, &q); err != nil {
			return nil, err
		}
	case q.OldestFirst && q.After > 0:
		w.cmp("position", ">", q.After)
	case !q.OldestFirst && q.Before > 0:
		w.cmp("position", "<", q.Before)
	}
	sql := w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY `) + s.sc.logOrder("", order) + ` LIMIT ` + w.arg(pageSize(q.Limit))
	return s.queryEvents(ctx, "log", sql, w.args)
}

// Event reads one event by its global position.
func (s *Store) Event(ctx context.Context, position int64) (Event, error) {
	var e Event
	if s.sc.noPosition {
		return e, fmt.Errorf("%w: position %d (the table has no positions)", ErrEventNotFound, position)
	}
	err := s.sc.scanEvent(s.db.QueryRow(ctx, s.sc.expand(`SELECT {*} FROM {events} WHERE {position} = $1`), position), &e)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("%w: position %d", ErrEventNotFound, position)
	}
	if err != nil {
		return e, fmt.Errorf("eventstore: unable to read event %d: %w", position, err)
	}
	return e, nil
}

// EventsAt reads the events at the given positions, in position order;
// positions no row has are left out. A primary key probe per position: the
// live feed's resume reads a ledger page's events with it.
func (s *Store) EventsAt(ctx context.Context, positions []int64) ([]Event, error) {
	return s.queryEvents(ctx, "events by position", s.sc.expand(`SELECT {*} FROM {events} WHERE {position} = ANY($1) ORDER BY {position}`), []any{positions})
}

// EventByID reads one event by its event_id.
func (s *Store) EventByID(ctx context.Context, eventID string) (Event, error) {
	var e Event
	if !s.sc.accept("event_id", eventID) {
		return e, fmt.Errorf("%w: %q is not an event id", ErrEventNotFound, eventID)
	}
	err := s.sc.scanEvent(s.db.QueryRow(ctx, s.sc.expand(`SELECT {*} FROM {events} WHERE {event_id} = $1{cast:event_id}`), eventID), &e)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("%w: event id %s", ErrEventNotFound, eventID)
	}
	if err != nil {
		return e, fmt.Errorf("eventstore: unable to read event %s: %w", eventID, err)
	}
	return e, nil
}

// Head is the newest event of the log.
type Head struct {
	Position   int64     `json:"position"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Head returns the newest event's position and time (zero for an empty log).
func (s *Store) Head(ctx context.Context) (Head, error) {
	var h Head
	var at *time.Time // an application's table may hold a NULL time
	err := s.db.QueryRow(ctx, s.sc.expand(`SELECT {position}, {recorded_at_tz} FROM {events} ORDER BY `)+s.sc.logOrder("", "DESC")+` LIMIT 1`).Scan(&h.Position, &at)
	h.RecordedAt = deref(at)
	if errors.Is(err, pgx.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("eventstore: unable to read head: %w", err)
	}
	return h, nil
}

// EventsAfter reads the first limit events after a position, in log order:
// what a projection has not processed yet. A primary key range scan.
func (s *Store) EventsAfter(ctx context.Context, position int64, limit int) ([]Event, error) {
	w := s.sc.where("")
	w.cmp("position", ">", max(position, 0))
	return s.queryEvents(ctx, fmt.Sprintf("events after %d", position), w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY {position}`)+` LIMIT `+w.arg(limit), w.args)
}

// StreamUpTo reads all of a stream's events at or before a log position, in
// version order: the events a projection at that checkpoint has seen.
func (s *Store) StreamUpTo(ctx context.Context, streamID string, position int64) ([]Event, error) {
	w := s.sc.where("")
	w.eq("stream_id", streamID)
	w.cmp("position", "<=", position)
	return s.queryEvents(ctx, fmt.Sprintf("stream %q", streamID), w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY {version}`), w.args)
}

// StreamLastPosition returns the position of a stream's latest event, or
// ErrStreamNotFound.
func (s *Store) StreamLastPosition(ctx context.Context, streamID string) (int64, error) {
	var last int64
	if !s.sc.accept("stream_id", streamID) {
		return 0, fmt.Errorf("%w: %q", ErrStreamNotFound, streamID)
	}
	err := s.db.QueryRow(ctx, s.sc.expand(`SELECT {position} FROM {events} WHERE {stream_id} = $1{cast:stream_id} ORDER BY {version} DESC LIMIT 1`), streamID).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", ErrStreamNotFound, streamID)
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to read stream %q: %w", streamID, err)
	}
	return last, nil
}

// StreamLength counts a stream's events.
func (s *Store) StreamLength(ctx context.Context, streamID string) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, s.sc.expand(`SELECT count(*) FROM {events} WHERE {stream_id} = $1{cast:stream_id}`), streamID).Scan(&n); err != nil {
		return 0, fmt.Errorf("eventstore: unable to count stream %q: %w", streamID, err)
	}
	return n, nil
}

// RecentStreams returns up to n distinct streams of a type whose events at
// or before position are the newest, newest first: the (stream_type,
// position) index read backwards from position, over at most 20·n events.
func (s *Store) RecentStreams(ctx context.Context, streamType string, position int64, n int) ([]string, error) {
	rows, err := s.db.Query(ctx, s.sc.expand(`
		SELECT stream_id FROM (
			SELECT stream_id, max(position) AS p FROM (
				SELECT {stream_id} AS stream_id, {position} AS position FROM {events}
				WHERE {stream_type} = $1 AND {position} <= $2
				ORDER BY {position} DESC LIMIT $3
			) recent GROUP BY stream_id
		) s ORDER BY p DESC LIMIT $4`), streamType, position, n*20, n)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read recent streams: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read recent streams: %w", err)
	}
	return ids, nil
}

// StreamIDs returns up to n ids of streams of a type after a keyset cursor,
// in byte order, through the partial index on first events. It is
// ListStreams without the per-stream summary, for walks over every stream.
func (s *Store) StreamIDs(ctx context.Context, streamType, after string, n int) ([]string, error) {
	w := s.sc.where("")
	w.eq("stream_type", streamType)
	w.cond("{version} = 1")
	w.streamIDCmp(">", after)
	rows, err := s.db.Query(ctx, w.in(`SELECT {stream_id} FROM {events} WHERE {where} ORDER BY {stream_id}{collate}`)+` LIMIT `+w.arg(n), w.args...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to list streams: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to list streams: %w", err)
	}
	return ids, nil
}

// CountStreams counts the streams of a type (their first events).
func (s *Store) CountStreams(ctx context.Context, streamType string) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, s.sc.expand(`SELECT count(*) FROM {events} WHERE {stream_type} = $1 AND {version} = 1`), streamType).Scan(&n); err != nil {
		return 0, fmt.Errorf("eventstore: unable to count streams: %w", err)
	}
	return n, nil
}
