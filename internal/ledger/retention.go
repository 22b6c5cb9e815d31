package ledger

import (
	"context"
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
