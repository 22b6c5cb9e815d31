package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Anchor is a pruned range of the ledger (auditd.ledger_anchors): the
// entries from FromLSN to UptoLSN were removed, and Hash is the last one's
// entry hash, from which the rest of the chain verifies.
type Anchor struct {
	FromLSN     string `json:"from_lsn"`
	UptoLSN     string `json:"upto_lsn"`
	upto        uint64
	Hash        Hash       `json:"-"`
	Entries     int64      `json:"entries"`
	Events      int64      `json:"events"`
	MaxPosition int64      `json:"max_position"`
	Before      *time.Time `json:"committed_before,omitempty"` // newest commit time pruned
	PrunedAt    time.Time  `json:"pruned_at"`
}

// Anchors returns the pruned ranges, oldest first.
func (s *Store) Anchors(ctx context.Context) ([]Anchor, error) {
	rows, err := s.pool.Query(ctx, `SELECT from_lsn::text, upto_lsn::text, hash, entries, events, max_position, committed_before, pruned_at
		FROM auditd.ledger_anchors ORDER BY upto_lsn`)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the pruned ranges: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Anchor, error) {
		var a Anchor
		var h []byte
		if err := row.Scan(&a.FromLSN, &a.UptoLSN, &h, &a.Entries, &a.Events, &a.MaxPosition, &a.Before, &a.PrunedAt); err != nil {
			return a, err
		}
		if len(h) != HashSize {
			return a, fmt.Errorf("anchor %s has a %d-byte hash", a.UptoLSN, len(h))
		}
		copy(a.Hash[:], h)
		lsn, err := pglogrepl.ParseLSN(a.UptoLSN)
		a.upto = uint64(lsn)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the pruned ranges: %w", err)
	}
	return out, nil
}

// Prune removes the entries committed before before, as one prefix of the
// chain, and records their range as an anchor in the same transaction (the
// append-only trigger allows deleting only below an anchor). The newest
// entry is always kept, so that the chain continues from a stored entry.
// Back-filled entries, which have no commit time, go with the first live
// entry older than before. It returns the anchor, or nil when nothing was
// old enough.
func (s *Store) Prune(ctx context.Context, before time.Time) (*Anchor, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to begin pruning: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// One prune at a time, and no writer racing the head it keeps.
	if _, err := tx.Exec(ctx, `LOCK TABLE auditd.ledger_anchors IN EXCLUSIVE MODE`); err != nil {
		return nil, fmt.Errorf("ledger: unable to lock the anchors: %w", err)
	}
	var upto *string
	err = tx.QueryRow(ctx, `SELECT max(commit_lsn)::text FROM auditd.ledger
		WHERE committed_at < $1 AND commit_lsn < (SELECT max(commit_lsn) FROM auditd.ledger)`, before).Scan(&upto)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to find what to prune: %w", err)
	}
	if upto == nil {
		return nil, nil
	}
	uptoLSN, err := pglogrepl.ParseLSN(*upto)
	if err != nil {
		return nil, fmt.Errorf("ledger: bad LSN %q: %w", *upto, err)
	}
	a := Anchor{UptoLSN: *upto, upto: uint64(uptoLSN)}
	// The range's figures, read from the entries themselves.
	err = s.walk(ctx, 0, func(e *Entry) error {
		if e.CommitLSN > a.upto {
			return errStopWalk
		}
		if a.FromLSN == "" {
			a.FromLSN = pglogrepl.LSN(e.CommitLSN).String()
		}
		a.Entries++
		a.Events += int64(len(e.Events))
		for _, ev := range e.Events {
			a.MaxPosition = max(a.MaxPosition, ev.Position)
		}
		if !e.CommittedAt.IsZero() && (a.Before == nil || e.CommittedAt.After(*a.Before)) {
			at := e.CommittedAt
			a.Before = &at
		}
		a.Hash = e.Hash
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, err
	}
	// Keep the pruned ranges' high-water mark: a row below an earlier
	// range stays "pruned", not "unwitnessed".
	var earlier int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(max_position), 0) FROM auditd.ledger_anchors`).Scan(&earlier); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the pruned ranges: %w", err)
	}
	a.MaxPosition = max(a.MaxPosition, earlier)
	err = tx.QueryRow(ctx, `INSERT INTO auditd.ledger_anchors (upto_lsn, from_lsn, hash, entries, events, max_position, committed_before)
		VALUES ($1::pg_lsn, $2::pg_lsn, $3, $4, $5, $6, $7) RETURNING pruned_at`,
		a.UptoLSN, a.FromLSN, a.Hash[:], a.Entries, a.Events, a.MaxPosition, a.Before).Scan(&a.PrunedAt)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to record the anchor: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM auditd.ledger_streams WHERE commit_lsn <= $1::pg_lsn`, a.UptoLSN); err != nil {
		return nil, fmt.Errorf("ledger: unable to prune the stream index: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM auditd.ledger WHERE commit_lsn <= $1::pg_lsn`, a.UptoLSN); err != nil {
		return nil, fmt.Errorf("ledger: unable to prune entries: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("ledger: unable to commit the prune: %w", err)
	}
	return &a, nil
}

// errStopWalk ends a walk early.
var errStopWalk = errors.New("stop")

// lastAnchor returns the newest anchor's entry LSN and hash, where the
// chain that remains starts (zero values when nothing was pruned).
func (s *Store) lastAnchor(ctx context.Context) (uint64, Hash, error) {
	anchors, err := s.Anchors(ctx)
	if err != nil || len(anchors) == 0 {
		return 0, Hash{}, err
	}
	last := anchors[len(anchors)-1]
	return last.upto, last.Hash, nil
}
