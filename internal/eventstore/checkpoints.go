package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Checkpoint is one projection's checkpoint row, with the oldest event it
// has not processed yet.
type Checkpoint struct {
	Name         string
	Position     int64
	UpdatedAt    time.Time
	LastError    *string
	ErrorCount   int
	NextPosition int64      // oldest event with position > checkpoint (0 when caught up)
	NextAt       *time.Time // its recorded_at; nil when caught up
}

// checkpointsSQL reads the head once and, for every checkpoint, the oldest
// event not yet processed. Both are probes of the events primary key: the
// head is the last entry, the next event the first entry after the
// checkpoint. Nothing here scans events, so the cost is O(projections).
const checkpointsSQL = `
	WITH head AS (
		SELECT {position} AS position, {recorded_at_tz} AS recorded_at FROM {events} ORDER BY {position} DESC LIMIT 1
	)
	SELECT h.position, h.recorded_at,
	       {c.cp_name}, {c.cp_position}, {c.cp_updated_at}, {c.cp_last_error}, {c.cp_error_count},
	       n.position, n.recorded_at
	FROM (SELECT 1) one
	LEFT JOIN head h ON true
	LEFT JOIN {checkpoints} c ON true
	LEFT JOIN LATERAL (
		SELECT {e.position} AS position, {e.recorded_at_tz} AS recorded_at FROM {events} e
		WHERE {e.position} > greatest({c.cp_position}, 0)
		ORDER BY {e.position} LIMIT 1
	) n ON {c.cp_name} IS NOT NULL
	ORDER BY {c.cp_name}`

// Checkpoints returns the head and every checkpoint row, by name, in one
// statement (one snapshot).
func (s *Store) Checkpoints(ctx context.Context) (Head, []Checkpoint, error) {
	var head Head
	if s.sc.checkpoints == "" {
		// A mapped source without a checkpoints table: the head alone.
		head, err := s.Head(ctx)
		return head, nil, err
	}
	rows, err := s.db.Query(ctx, s.sc.expand(checkpointsSQL))
	if err != nil {
		return head, nil, fmt.Errorf("eventstore: unable to read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var (
			headPos  *int64
			headAt   *time.Time
			name     *string
			pos      *int64
			updated  *time.Time
			cp       Checkpoint
			errCount *int32
			nextPos  *int64
			nextAt   *time.Time
		)
		if err := rows.Scan(&headPos, &headAt, &name, &pos, &updated, &cp.LastError, &errCount, &nextPos, &nextAt); err != nil {
			return head, nil, fmt.Errorf("eventstore: unable to read checkpoints: %w", err)
		}
		if headPos != nil {
			head = Head{Position: *headPos, RecordedAt: *headAt}
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
		return head, nil, fmt.Errorf("eventstore: unable to read checkpoints: %w", err)
	}
	return head, out, nil
}

// CheckpointPosition reads one projection's checkpoint position (0 when it
// never wrote one).
func (s *Store) CheckpointPosition(ctx context.Context, name string) (int64, error) {
	var cp int64
	if s.sc.checkpoints == "" {
		return 0, nil
	}
	err := s.db.QueryRow(ctx, s.sc.expand(`SELECT {cp_position} FROM {checkpoints} WHERE {cp_name} = $1`), name).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to read checkpoint %q: %w", name, err)
	}
	return cp, nil
}

// StreamBehind is how many of one stream's events a projection has not
// processed.
type StreamBehind struct {
	Projection   string
	Checkpoint   int64
	EventsBehind int64
}

// StreamBehindCheckpoints counts, for every checkpoint, streamID's events
// after it. Each count walks only this stream's index entries (streams are
// short); positions are not ordered by version, so the count cannot be
// derived from versions.
func (s *Store) StreamBehindCheckpoints(ctx context.Context, streamID string) ([]StreamBehind, error) {
	if s.sc.checkpoints == "" || !s.sc.accept("stream_id", streamID) {
		return nil, nil // a mapped source without a checkpoints table
	}
	rows, err := s.db.Query(ctx, s.sc.expand(`
		SELECT {c.cp_name}, {c.cp_position},
		       (SELECT count(*) FROM {events} e WHERE {e.stream_id} = $1{cast:stream_id} AND {e.position} > greatest({c.cp_position}, 0))
		FROM {checkpoints} c ORDER BY {c.cp_name}`), streamID)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read checkpoints of stream %q: %w", streamID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StreamBehind, error) {
		var b StreamBehind
		err := r.Scan(&b.Projection, &b.Checkpoint, &b.EventsBehind)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read checkpoints of stream %q: %w", streamID, err)
	}
	return out, nil
}

// RegisterCheckpoint creates a projection's checkpoint row at position 0 if
// it has none. The demo's projections write checkpoints as an application
// beside auditd would; auditd itself only reads them.
func (s *Store) RegisterCheckpoint(ctx context.Context, name string) error {
	if s.sc.readOnly {
		return ErrReadOnly
	}
	if _, err := s.db.Exec(ctx, s.sc.expand(`INSERT INTO {checkpoints} ({cp_name}) VALUES ($1) ON CONFLICT DO NOTHING`), name); err != nil {
		return fmt.Errorf("eventstore: unable to register projection %s: %w", name, err)
	}
	return nil
}

// LockCheckpoint reads a checkpoint's position and locks its row until the
// transaction ends (on a Store from InTx): one writer per projection.
func (s *Store) LockCheckpoint(ctx context.Context, name string) (int64, error) {
	if s.sc.readOnly {
		return 0, ErrReadOnly
	}
	var cp int64
	if err := s.db.QueryRow(ctx, s.sc.expand(`SELECT {cp_position} FROM {checkpoints} WHERE {cp_name} = $1 FOR UPDATE`), name).Scan(&cp); err != nil {
		return 0, fmt.Errorf("eventstore: unable to read checkpoint %q: %w", name, err)
	}
	return cp, nil
}

// SaveCheckpoint moves a checkpoint to position. A non-empty failure records
// the error that stopped the projection there (and counts it); an empty one
// clears the last error.
func (s *Store) SaveCheckpoint(ctx context.Context, name string, position int64, failure string) error {
	if s.sc.readOnly {
		return ErrReadOnly
	}
	sql := `UPDATE {checkpoints} SET {cp_position} = $2, {cp_updated_at} = now(), {cp_last_error} = NULL WHERE {cp_name} = $1`
	args := []any{name, position}
	if failure != "" {
		sql = `UPDATE {checkpoints} SET {cp_position} = $2, {cp_updated_at} = now(), {cp_last_error} = $3, {cp_error_count} = {cp_error_count} + 1 WHERE {cp_name} = $1`
		args = append(args, failure)
	}
	if _, err := s.db.Exec(ctx, s.sc.expand(sql), args...); err != nil {
		return fmt.Errorf("eventstore: unable to save checkpoint %q: %w", name, err)
	}
	return nil
}
