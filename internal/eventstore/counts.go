package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// TypeCount is how many events of one type a stream type has, and how many
// streams that event type opened.
type TypeCount struct {
	StreamType string `json:"stream_type"`
	EventType  string `json:"event_type"`
	Events     int64  `json:"events"`
	Streams    int64  `json:"streams"`
}

// countTail bounds the events past the counted position that Counts adds
// by reading them: the counter keeps it small (a few rounds of appends);
// right after a first start on a large table the counts grow as it catches
// up instead of one view reading millions of rows.
const countTail = 100_000

// countChunk is how many positions one statement of a counting round folds.
const countChunk = 200_000

// Counts returns per-type counts: what the counter folded into
// auditd.event_counts, plus the events after its position, read from the
// table (at most countTail of them). It never counts the whole table.
func (s *Store) Counts(ctx context.Context) ([]TypeCount, error) {
	if s.aggregateCounts {
		return s.countByAggregate(ctx)
	}
	sql := `SELECT stream_type, event_type, events, streams FROM auditd.event_counts ORDER BY 3 DESC, 1, 2`
	var args []any
	if !s.sc.noPosition {
		// The counted position belongs to this source only: counts of
		// another mapping are not added to.
		sql = s.sc.expand(`
		WITH auditd_p AS (
			SELECT coalesce(max(position), 0) AS counted, count(*) > 0 AS mine FROM auditd.event_count_progress WHERE source = $1
		), tail AS (
			SELECT coalesce({stream_type}, '') AS stream_type, coalesce({event_type}::text, '') AS event_type, coalesce({version} = 1, false) AS first
			FROM {events} WHERE {position} > (SELECT counted FROM auditd_p) ORDER BY {position} LIMIT $2
		)
		SELECT stream_type, event_type, sum(events)::bigint, sum(streams)::bigint FROM (
			SELECT stream_type, event_type, events, streams FROM auditd.event_counts WHERE (SELECT mine FROM auditd_p)
			UNION ALL
			SELECT stream_type, event_type, count(*), count(*) FILTER (WHERE first) FROM tail GROUP BY 1, 2
		) c GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`)
		args = []any{s.source, countTail}
	}
	rows, err := s.db.Query(ctx, sql, args...)
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

// FoldCounts is one round of the counter: it folds the events that can no
// longer change below the counted position into auditd.event_counts, and
// notes the head for the next round. It returns how many events it folded.
//
// Positions are not commit order: a transaction that took a position
// before the head was seen may commit after. So the head seen in a
// snapshot is counted up to only once every transaction in progress in
// that snapshot has ended (a later snapshot's xmin has passed its xmax);
// a transaction starting later takes higher positions. auditd attaches
// nothing to the table, so this works on a mapped table as on its own.
//
// A table without a position is counted whole each round.
func (s *Store) FoldCounts(ctx context.Context) (int64, error) {
	if s.aggregateCounts {
		return 0, nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Serialises two auditd processes on one database and reads the
	// progress; a row of another source starts the counts again.
	if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`); err != nil {
		return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
	}
	var (
		source   string
		position int64
		pending  *int64
		settled  bool
	)
	err = tx.QueryRow(ctx, `SELECT source, position, pending_head, coalesce(pg_snapshot_xmin(pg_current_snapshot()) >= pending_xmax, false)
		FROM auditd.event_count_progress FOR UPDATE`).Scan(&source, &position, &pending, &settled)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && source != s.source) {
		if _, err := tx.Exec(ctx, `TRUNCATE auditd.event_counts`); err != nil {
			return 0, fmt.Errorf("eventstore: unable to reset counts: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auditd.event_count_progress (source) VALUES ($1)
			ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source, position = 0, pending_head = NULL, pending_xmax = NULL`, s.source); err != nil {
			return 0, fmt.Errorf("eventstore: unable to reset counts: %w", err)
		}
		source, position, pending, settled, err = s.source, 0, nil, false, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to read the count progress: %w", err)
	}
	var folded int64
	if s.sc.noPosition {
		if _, err := tx.Exec(ctx, `TRUNCATE auditd.event_counts`); err != nil {
			return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
		}
		tag, err := tx.Exec(ctx, s.sc.expand(`INSERT INTO auditd.event_counts (stream_type, event_type, events, streams)
			SELECT coalesce({stream_type}, ''), coalesce({event_type}::text, ''), count(*), count(*) FILTER (WHERE {version} = 1) FROM {events} GROUP BY 1, 2`))
		if err != nil {
			return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
		}
		folded = tag.RowsAffected()
	} else {
		if pending != nil && settled {
			for from := position; from < *pending; from += countChunk {
				to := min(from+countChunk, *pending)
				var n int64
				if err := tx.QueryRow(ctx, s.sc.expand(`
					WITH agg AS (
						SELECT coalesce({stream_type}, '') AS stream_type, coalesce({event_type}::text, '') AS event_type, count(*) AS events, count(*) FILTER (WHERE {version} = 1) AS streams
						FROM {events} WHERE {position} > $1 AND {position} <= $2 GROUP BY 1, 2
					), ins AS (
						INSERT INTO auditd.event_counts AS c (stream_type, event_type, events, streams)
						SELECT stream_type, event_type, events, streams FROM agg
						ON CONFLICT (stream_type, event_type)
						DO UPDATE SET events = c.events + EXCLUDED.events, streams = c.streams + EXCLUDED.streams
					)
					SELECT coalesce(sum(events), 0)::bigint FROM agg`), from, to).Scan(&n); err != nil {
					return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
				}
				folded += n
			}
			position = *pending
		}
		if _, err := tx.Exec(ctx, s.sc.expand(`UPDATE auditd.event_count_progress SET position = $1, updated_at = now(),
			pending_head = (SELECT coalesce(max({position}), $1) FROM {events}), pending_xmax = pg_snapshot_xmax(pg_current_snapshot())`), position); err != nil {
			return 0, fmt.Errorf("eventstore: unable to note the count progress: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("eventstore: unable to count events: %w", err)
	}
	return folded, nil
}

// CountFolder runs the counter (FoldCounts) in the background.
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

// Start counts once now (so that a table without a position has counts at
// once) and then every interval until Stop.
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
