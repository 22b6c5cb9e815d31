package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// checkpointRow is a checkpoint as the lag needs it.
type checkpointRow struct {
	eventstore.Checkpoint
	Missing bool // declared but no row
}

// sample is one row of auditd.lag_samples.
type sample struct {
	At         time.Time
	Position   int64
	ErrorCount int
}

// checkpoints returns the head and every checkpoint row.
func (m *Monitor) checkpoints(ctx context.Context) (eventstore.Head, []checkpointRow, error) {
	head, cps, err := m.store.Checkpoints(ctx)
	if err != nil {
		return head, nil, err
	}
	out := make([]checkpointRow, len(cps))
	for i := range cps {
		out[i] = checkpointRow{Checkpoint: cps[i]}
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

// slots reads the logical replication slots of the event table's database
// (auditd's own tables may be in another). WAL
// retained is measured from restart_lsn (what the server must keep), not
// from confirmed_flush_lsn.
func (m *Monitor) slots(ctx context.Context) ([]Slot, error) {
	rows, err := m.store.Pool().Query(ctx, `
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
// what it is working on, or stuck on.
func (m *Monitor) Unprocessed(ctx context.Context, checkpoint int64, limit int) ([]eventstore.Event, error) {
	return m.store.EventsAfter(ctx, checkpoint, limit)
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
	last, err := m.store.StreamLastPosition(ctx, streamID)
	if err != nil {
		return nil, err
	}
	behind, err := m.store.StreamBehindCheckpoints(ctx, streamID)
	if err != nil {
		return nil, err
	}
	out := []StreamProjectionStatus{}
	seen := map[string]bool{}
	for _, b := range behind {
		seen[b.Projection] = true
		out = append(out, StreamProjectionStatus{Projection: b.Projection, Checkpoint: b.Checkpoint, StreamPosition: last,
			EventsBehind: b.EventsBehind, Processed: b.Checkpoint >= last})
	}
	for _, name := range m.opts.Declared {
		if seen[name] {
			continue
		}
		n, err := m.store.StreamLength(ctx, streamID)
		if err != nil {
			return nil, err
		}
		out = append(out, StreamProjectionStatus{Projection: name, StreamPosition: last, EventsBehind: n, NeverWrote: true})
	}
	return out, nil
}
