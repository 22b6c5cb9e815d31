package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// TypeCount is how many events of one type a stream type has, and how many
// streams that event type opened.
type TypeCount struct {
	StreamType string `json:"stream_type"`
	EventType  string `json:"event_type"`
	Events     int64  `json:"events"`
	Streams    int64  `json:"streams"`
}

// Counts returns per-type counts from auditd's counter tables: the folded
// totals plus the deltas not yet folded. It never scans the events table.
//
// A mapped table has no counting trigger: its counts are one aggregate over
// the table (a sequential scan; counts kept another way are a later step).
func (s *Store) Counts(ctx context.Context) ([]TypeCount, error) {
	sql := `
		SELECT stream_type, event_type, sum(events)::bigint, sum(streams)::bigint FROM (
			SELECT stream_type, event_type, events, streams FROM auditd.event_counts
			UNION ALL
			SELECT stream_type, event_type, events, streams FROM auditd.event_count_deltas
		) c GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`
	if s.sc.readOnly {
		sql = s.sc.expand(`
			SELECT {stream_type}, {event_type}::text, count(*), count(*) FILTER (WHERE {version} = 1)
			FROM {events} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`)
	}
	rows, err := s.db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read counts: %w", err)
	}
	defer rows.Close()
	var out []TypeCount
	for rows.Next() {
		var c TypeCount
		if err := rows.Scan(&c.StreamType, &c.EventType, &c.Events, &c.Streams); err != nil {
			return nil, fmt.Errorf("eventstore: unable to read counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: unable to read counts: %w", err)
	}
	return out, nil
}

// FoldCounts folds the pending count deltas into the totals, in one
// transaction, so that Counts stays a small read. auditd serve calls it
// periodically; it is safe to run concurrently with appends.
func (s *Store) FoldCounts(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `
		WITH d AS (
			DELETE FROM auditd.event_count_deltas RETURNING stream_type, event_type, events, streams
		)
		INSERT INTO auditd.event_counts AS c (stream_type, event_type, events, streams)
		SELECT stream_type, event_type, sum(events), sum(streams) FROM d GROUP BY 1, 2
		ON CONFLICT (stream_type, event_type)
		DO UPDATE SET events = c.events + EXCLUDED.events, streams = c.streams + EXCLUDED.streams`)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to fold counts: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CountFolder folds count deltas in the background.
type CountFolder struct {
	store    *Store
	logger   *slog.Logger
	interval time.Duration
	loop     ticking
}

// NewCountFolder returns a folder that runs every interval once started; a
// nil logger discards.
func NewCountFolder(store *Store, logger *slog.Logger, interval time.Duration) *CountFolder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &CountFolder{store: store, logger: logger, interval: interval}
}

// Start folds once now (so a fresh start has a small delta table) and then
// every interval until Stop.
func (f *CountFolder) Start(ctx context.Context) error {
	if _, err := f.store.FoldCounts(ctx); err != nil {
		return err
	}
	f.loop.start(ctx, f.interval, func(ctx context.Context) {
		if _, err := f.store.FoldCounts(ctx); err != nil && ctx.Err() == nil {
			f.logger.Warn("unable to fold event counts", "error", err)
		}
	})
	return nil
}

// Stop ends the loop and waits for it.
func (f *CountFolder) Stop() { f.loop.stop() }
