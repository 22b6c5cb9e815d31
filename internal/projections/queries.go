package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditd/auditd/internal/eventstore"
)

// checkpointRow is one projection_checkpoints row with what the lag needs.
type checkpointRow struct {
	Name         string
	Position     int64
	UpdatedAt    time.Time
	LastError    *string
	ErrorCount   int
	NextPosition int64      // oldest event with position > checkpoint
	NextAt       *time.Time // its recorded_at; nil when caught up
	Missing      bool       // declared but no row
}

// sample is one row of auditd.lag_samples.
type sample struct {
	At         time.Time
	Position   int64
	ErrorCount int
}

// checkpointsSQL reads the head once and, for every checkpoint, the oldest
// event not yet processed. Both are probes of the events primary key: the
// head is the last entry, the next event the first entry after the
// checkpoint. Nothing here scans events, so the cost is O(projections).
const checkpointsSQL = `
	WITH head AS (
		SELECT position, recorded_at FROM events ORDER BY position DESC LIMIT 1
	)
	SELECT h.position, h.recorded_at,
	       c.projection, c.position, c.updated_at, c.last_error, c.error_count,
	       n.position, n.recorded_at
	FROM (SELECT 1) one
	LEFT JOIN head h ON true
	LEFT JOIN projection_checkpoints c ON true
	LEFT JOIN LATERAL (
		SELECT e.position, e.recorded_at FROM events e
		WHERE e.position > greatest(c.position, 0)
		ORDER BY e.position LIMIT 1
	) n ON c.projection IS NOT NULL
	ORDER BY c.projection`

// checkpoints returns the head and every checkpoint row.
func (m *Monitor) checkpoints(ctx context.Context) (eventstore.Head, []checkpointRow, error) {
	var head eventstore.Head
	rows, err := m.pool.Query(ctx, checkpointsSQL)
	if err != nil {
		return head, nil, fmt.Errorf("projections: unable to read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []checkpointRow
	for rows.Next() {
		var (
			headPos  *int64
			headAt   *time.Time
			name     *string
			pos      *int64
			updated  *time.Time
			cp       checkpointRow
			errCount *int32
			nextPos  *int64
			nextAt   *time.Time
		)
		if err := rows.Scan(&headPos, &headAt, &name, &pos, &updated, &cp.LastError, &errCount, &nextPos, &nextAt); err != nil {
			return head, nil, fmt.Errorf("projections: unable to read checkpoints: %w", err)
		}
		if headPos != nil {
			head = eventstore.Head{Position: *headPos, RecordedAt: *headAt}
		}
		if name == nil {
			continue // no checkpoint rows at all
		}
		cp.Name, cp.Position, cp.UpdatedAt = *name, *pos, *updated
		if errCount != nil {
			cp.ErrorCount = int(*errCount)
		}
		if nextPos != nil {
			cp.NextPosition, cp.NextAt = *nextPos, nextAt
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return head, nil, fmt.Errorf("projections: unable to read checkpoints: %w", err)
	}
	return head, out, nil
}

// recentSamples reads every projection's samples taken since since (a few
// dozen rows per projection: the rate and stall windows).
func (m *Monitor) recentSamples(ctx context.Context, since time.Time) (map[string][]sample, error) {
	rows, err := m.pool.Query(ctx, `
		SELECT projection, sampled_at, position, error_count FROM auditd.lag_samples
		WHERE sampled_at >= $1`, since)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read lag samples: %w", err)
	}
	defer rows.Close()
	out := map[string][]sample{}
	for rows.Next() {
		var name string
		var s sample
		if err := rows.Scan(&name, &s.At, &s.Position, &s.ErrorCount); err != nil {
			return nil, fmt.Errorf("projections: unable to read lag samples: %w", err)
		}
		out[name] = append(out[name], s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: unable to read lag samples: %w", err)
	}
	return out, nil
}

// slots reads the logical replication slots of the current database. WAL
// retained is measured from restart_lsn (what the server must keep), not
// from confirmed_flush_lsn.
func (m *Monitor) slots(ctx context.Context) ([]Slot, error) {
	rows, err := m.pool.Query(ctx, `
		SELECT slot_name, coalesce(plugin, ''), active, confirmed_flush_lsn::text,
		       pg_wal_lsn_diff(
		           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
		           restart_lsn)::bigint,
		       wal_status, safe_wal_size
		FROM pg_replication_slots
		WHERE slot_type = 'logical' AND database = current_database()
		ORDER BY slot_name`)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read replication slots: %w", err)
	}
	defer rows.Close()
	var out []Slot
	for rows.Next() {
		var s Slot
		if err := rows.Scan(&s.Name, &s.Plugin, &s.Active, &s.ConfirmedFlushLSN, &s.RetainedBytes, &s.WALStatus, &s.SafeWALSize); err != nil {
			return nil, fmt.Errorf("projections: unable to read replication slots: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: unable to read replication slots: %w", err)
	}
	return out, nil
}

// HistoryPoint is one bucket of a projection's lag history: the worst lag
// sampled in it.
type HistoryPoint struct {
	At         time.Time `json:"at"`
	LagEvents  int64     `json:"lag_events"`
	LagSeconds float64   `json:"lag_seconds"`
	Position   int64     `json:"position"`
}

// History reads the lag history of every projection (name "" ) or of one,
// since since, in buckets of bucket width (max per bucket), oldest first.
// date_bin keeps the rows returned bounded whatever the sample interval.
func (m *Monitor) History(ctx context.Context, name string, since time.Time, bucket time.Duration) (map[string][]HistoryPoint, error) {
	if bucket < time.Second {
		bucket = time.Second
	}
	rows, err := m.pool.Query(ctx, `
		SELECT projection, date_bin($2 * interval '1 microsecond', sampled_at, timestamptz '2000-01-01 00:00:00+00') AS b,
		       max(lag_events), max(lag_seconds), max(position)
		FROM auditd.lag_samples
		WHERE sampled_at >= $1 AND ($3 = '' OR projection = $3)
		GROUP BY projection, b
		ORDER BY projection, b`, since, bucket.Microseconds(), name)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read lag history: %w", err)
	}
	defer rows.Close()
	out := map[string][]HistoryPoint{}
	for rows.Next() {
		var n string
		var p HistoryPoint
		if err := rows.Scan(&n, &p.At, &p.LagEvents, &p.LagSeconds, &p.Position); err != nil {
			return nil, fmt.Errorf("projections: unable to read lag history: %w", err)
		}
		out[n] = append(out[n], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: unable to read lag history: %w", err)
	}
	return out, nil
}

// Unprocessed reads the first limit events after a projection's checkpoint:
// what it is working on, or stuck on. A primary key range scan.
func (m *Monitor) Unprocessed(ctx context.Context, checkpoint int64, limit int) ([]eventstore.Event, error) {
	rows, err := m.pool.Query(ctx, `
		SELECT position, event_id::text, stream_id, stream_type, version, event_type, schema_version, payload, metadata, recorded_at
		FROM events WHERE position > $1 ORDER BY position LIMIT $2`, max(checkpoint, 0), limit)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read unprocessed events: %w", err)
	}
	events, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read unprocessed events: %w", err)
	}
	return events, nil
}

// collect scans rows of the events select list used in this package.
func collect(rows pgx.Rows) ([]eventstore.Event, error) {
	defer rows.Close()
	var out []eventstore.Event
	for rows.Next() {
		var e eventstore.Event
		var payload, metadata []byte
		if err := rows.Scan(&e.Position, &e.EventID, &e.StreamID, &e.StreamType, &e.Version, &e.EventType, &e.SchemaVersion, &payload, &metadata, &e.RecordedAt); err != nil {
			return nil, err
		}
		e.Payload, e.Metadata = payload, metadata
		out = append(out, e)
	}
	return out, rows.Err()
}

// StreamProjectionStatus says whether one projection has processed a
// stream's latest event.
type StreamProjectionStatus struct {
	Projection     string `json:"projection"`
	Checkpoint     int64  `json:"checkpoint"`
	StreamPosition int64  `json:"stream_position"` // position of the stream's latest event
	Processed      bool   `json:"processed"`       // checkpoint >= stream_position
	EventsBehind   int64  `json:"events_behind"`   // this stream's events after the checkpoint
	NeverWrote     bool   `json:"never_wrote,omitempty"`
}

// StreamStatus tells, for each projection, whether streamID's latest event
// is processed and how many of its events are not. It returns
// eventstore.ErrStreamNotFound for a stream without events.
func (m *Monitor) StreamStatus(ctx context.Context, streamID string) ([]StreamProjectionStatus, error) {
	if streamID == "" {
		return nil, eventstore.ErrEmptyStreamID
	}
	var last int64
	err := m.pool.QueryRow(ctx, `SELECT position FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1`, streamID).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", eventstore.ErrStreamNotFound, streamID)
	}
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read stream %q: %w", streamID, err)
	}
	// Counting the stream's events after each checkpoint walks only this
	// stream's index entries (streams are short); positions are not
	// ordered by version, so the count cannot be derived from versions.
	rows, err := m.pool.Query(ctx, `
		SELECT c.projection, c.position,
		       (SELECT count(*) FROM events e WHERE e.stream_id = $1 AND e.position > greatest(c.position, 0))
		FROM projection_checkpoints c ORDER BY c.projection`, streamID)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to read stream status %q: %w", streamID, err)
	}
	defer rows.Close()
	out := []StreamProjectionStatus{}
	seen := map[string]bool{}
	for rows.Next() {
		s := StreamProjectionStatus{StreamPosition: last}
		if err := rows.Scan(&s.Projection, &s.Checkpoint, &s.EventsBehind); err != nil {
			return nil, fmt.Errorf("projections: unable to read stream status %q: %w", streamID, err)
		}
		s.Processed = s.Checkpoint >= last
		seen[s.Projection] = true
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: unable to read stream status %q: %w", streamID, err)
	}
	for _, name := range m.opts.Declared {
		if seen[name] {
			continue
		}
		var n int64
		if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE stream_id = $1`, streamID).Scan(&n); err != nil {
			return nil, fmt.Errorf("projections: unable to read stream status %q: %w", streamID, err)
		}
		out = append(out, StreamProjectionStatus{Projection: name, StreamPosition: last, EventsBehind: n, NeverWrote: true})
	}
	return out, nil
}
