package timetravel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// snapshotStore owns the SQL of auditd.snapshots.
type snapshotStore struct {
	pool *pgxpool.Pool
}

// snapshotRow is one encoded state waiting to be written.
type snapshotRow struct {
	version    int
	recordedAt time.Time
	state      []byte
}

// latest returns the newest snapshot of the stream folded with fingerprint
// at or before version maxVersion, or nil when there is none. It is one
// backward probe of the primary key. A snapshot in an unknown format is
// treated as absent.
func (s snapshotStore) latest(ctx context.Context, streamID, fingerprint string, maxVersion int) (*State, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `
		SELECT state FROM auditd.snapshots
		WHERE stream_id = $1 AND fingerprint = $2 AND version <= $3
		ORDER BY version DESC
		LIMIT 1`, streamID, fingerprint, maxVersion).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("timetravel: unable to read snapshot of %q: %w", streamID, err)
	}
	st, err := UnmarshalSnapshot(data)
	if errors.Is(err, ErrSnapshotFormat) {
		return nil, nil
	}
	return st, err
}

// save inserts snapshots in one statement and returns how many rows were
// new. Two requests folding the same stream at once write the same keys with
// the same content: the second insert is a no-op.
func (s snapshotStore) save(ctx context.Context, streamID, fingerprint string, rows []snapshotRow) (int64, error) {
	versions := make([]int32, len(rows))
	times := make([]time.Time, len(rows))
	states := make([]string, len(rows))
	for i, r := range rows {
		versions[i], times[i], states[i] = int32(r.version), r.recordedAt, string(r.state)
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO auditd.snapshots (stream_id, fingerprint, version, recorded_at, state)
		SELECT $1, $2, u.version, u.recorded_at, u.state::jsonb
		FROM unnest($3::integer[], $4::timestamptz[], $5::text[]) AS u(version, recorded_at, state)
		ON CONFLICT (stream_id, fingerprint, version) DO NOTHING`,
		streamID, fingerprint, versions, times, states)
	if err != nil {
		return 0, fmt.Errorf("timetravel: unable to write snapshots of %q: %w", streamID, err)
	}
	return tag.RowsAffected(), nil
}

// count returns how many snapshots the stream has for fingerprint.
func (s snapshotStore) count(ctx context.Context, streamID, fingerprint string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM auditd.snapshots WHERE stream_id = $1 AND fingerprint = $2`,
		streamID, fingerprint).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("timetravel: unable to count snapshots of %q: %w", streamID, err)
	}
	return n, nil
}

// pruneOtherThan deletes every snapshot not folded with fingerprint and
// returns how many rows went.
func (s snapshotStore) pruneOtherThan(ctx context.Context, fingerprint string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM auditd.snapshots WHERE fingerprint <> $1`, fingerprint)
	if err != nil {
		return 0, fmt.Errorf("timetravel: unable to prune snapshots of other reducer configurations: %w", err)
	}
	return tag.RowsAffected(), nil
}
