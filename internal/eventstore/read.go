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
	args := []any{q.StreamID}
	where := []string{"stream_id = $1"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	order := "ASC"
	if q.Backward {
		order = "DESC"
		if q.Before > 0 {
			add("version < $%d", q.Before)
		}
	} else if q.After > 0 {
		add("version > $%d", q.After)
	}
	if q.MaxVersion > 0 {
		add("version <= $%d", q.MaxVersion)
	}
	if !q.Until.IsZero() {
		add("recorded_at <= $%d", q.Until)
	}
	args = append(args, pageSize(q.Limit))
	sql := `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY version ` + order + fmt.Sprintf(` LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read stream %q: %w", q.StreamID, err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read stream %q: %w", q.StreamID, err)
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
	SELECT h.stream_id, h.stream_type, l.version, h.recorded_at, l.recorded_at, l.event_type, l.position
	FROM events h
	CROSS JOIN LATERAL (
		SELECT version, recorded_at, event_type, position FROM events
		WHERE stream_id = h.stream_id ORDER BY version DESC LIMIT 1
	) l`

func scanStreamInfo(row pgx.Row, si *StreamInfo) error {
	return row.Scan(&si.StreamID, &si.StreamType, &si.Version, &si.FirstAt, &si.LastAt, &si.LastType, &si.LastPosition)
}

// Stream returns one stream's summary, or ErrStreamNotFound.
func (s *Store) Stream(ctx context.Context, streamID string) (StreamInfo, error) {
	var si StreamInfo
	if strings.TrimSpace(streamID) == "" {
		return si, ErrEmptyStreamID
	}
	err := scanStreamInfo(s.pool.QueryRow(ctx, streamInfoSQL+` WHERE h.stream_id = $1 AND h.version = 1`, streamID), &si)
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
	args := []any{}
	where := []string{"h.version = 1"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Prefix != "" {
		add(`h.stream_id COLLATE "C" LIKE $%d`, likePrefix(q.Prefix))
	}
	if q.StreamType != "" {
		add("h.stream_type = $%d", q.StreamType)
	}
	if q.After != "" {
		add(`h.stream_id COLLATE "C" > $%d`, q.After)
	}
	args = append(args, pageSize(q.Limit))
	sql := streamInfoSQL + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY h.stream_id COLLATE "C" LIMIT $%d`, len(args))
	return s.queryStreamInfos(ctx, sql, args)
}

// LogQuery selects a page of the global log. Filters combine with AND.
// Newest first by default; keyset-paginated on position.
type LogQuery struct {
	StreamID      string
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
	Limit       int
}

// ReadLog reads one page of the global log.
func (s *Store) ReadLog(ctx context.Context, q LogQuery) ([]Event, error) {
	if q.After < 0 || q.Before < 0 {
		return nil, fmt.Errorf("%w: negative position", ErrInvalidCursor)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return nil, fmt.Errorf("eventstore: time range ends before it starts")
	}
	args := []any{}
	where := []string{"true"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.StreamID != "" {
		add("stream_id = $%d", q.StreamID)
	}
	if q.StreamType != "" {
		add("stream_type = $%d", q.StreamType)
	}
	if q.EventType != "" {
		add("event_type = $%d", q.EventType)
	}
	if q.CorrelationID != "" {
		add("metadata ? 'correlation_id' AND metadata->>'correlation_id' = $%d", q.CorrelationID)
	}
	if q.Actor != "" {
		add("metadata ? 'actor' AND metadata->>'actor' = $%d", q.Actor)
	}
	if !q.From.IsZero() {
		add("recorded_at >= $%d", q.From)
	}
	if !q.To.IsZero() {
		add("recorded_at <= $%d", q.To)
	}
	order := "DESC"
	if q.OldestFirst {
		order = "ASC"
		if q.After > 0 {
			add("position > $%d", q.After)
		}
	} else if q.Before > 0 {
		add("position < $%d", q.Before)
	}
	args = append(args, pageSize(q.Limit))
	sql := `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY position ` + order + fmt.Sprintf(` LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read log: %w", err)
	}
	events, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read log: %w", err)
	}
	return events, nil
}

// Event reads one event by its global position.
func (s *Store) Event(ctx context.Context, position int64) (Event, error) {
	var e Event
	err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE position = $1`, position), &e)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("%w: position %d", ErrEventNotFound, position)
	}
	if err != nil {
		return e, fmt.Errorf("eventstore: unable to read event %d: %w", position, err)
	}
	return e, nil
}

// EventByID reads one event by its event_id.
func (s *Store) EventByID(ctx context.Context, eventID string) (Event, error) {
	var e Event
	if !IsEventID(eventID) {
		return e, fmt.Errorf("%w: %q is not a UUID", ErrEventNotFound, eventID)
	}
	err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE event_id = $1::uuid`, eventID), &e)
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
	err := s.pool.QueryRow(ctx, `SELECT position, recorded_at FROM events ORDER BY position DESC LIMIT 1`).Scan(&h.Position, &h.RecordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("eventstore: unable to read head: %w", err)
	}
	return h, nil
}
