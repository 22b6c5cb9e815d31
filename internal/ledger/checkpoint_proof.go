package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// ProvenEntry is a ledger entry with what proves it: the previous entry's
// hash (its chain hash covers it), and its place in a checkpoint's tree.
type ProvenEntry struct {
	Entry
	Prev Hash
	// Checkpoint is the seq of the checkpoint whose segment holds it, and
	// Index its leaf in that checkpoint's tree.
	Checkpoint int64
	Index      int
}

// SegmentProof is one checkpoint and the Merkle proof of the bundle's
// entries in its segment.
type SegmentProof struct {
	Checkpoint Checkpoint
	Proof      []Hash
}

// StreamProof is the ledger's evidence of a window of a stream: every
// entry holding one of its events, in commit order, and the checkpoints
// proving them.
type StreamProof struct {
	Entries  []ProvenEntry
	Segments []SegmentProof
}

// ErrCheckpointMismatch: the ledger no longer hashes to what a checkpoint
// signed (an entry was changed or removed since).
var ErrCheckpointMismatch = errors.New("ledger: the ledger no longer matches a signed checkpoint")

// Prove returns the entries holding the stream's events with versions in
// (fromVersion, toVersion] and their proof against signed checkpoints.
// When the newest of them is after the latest checkpoint, it signs one
// first (ReasonEvidence). Each checkpoint's segment is read again and its
// Merkle root recomputed, so a ledger changed after signing is refused
// (ErrCheckpointMismatch) rather than proven.
//
// The entries come through the stream index (StreamEntries); each one's
// previous hash is the entry before it or, after a pruned range, that
// range's anchor.
func (c *Checkpointer) Prove(ctx context.Context, streamID string, fromVersion, toVersion int) (StreamProof, error) {
	var out StreamProof
	if toVersion <= fromVersion {
		return out, nil
	}
	entries, err := c.store.StreamEntries(ctx, streamID, fromVersion+1, toVersion)
	if err != nil {
		return out, err
	}
	var lsns []string
	for _, e := range entries {
		if slices.ContainsFunc(e.Events, func(ev Event) bool {
			return ev.StreamID == streamID && ev.Version > fromVersion && ev.Version <= toVersion
		}) {
			out.Entries = append(out.Entries, ProvenEntry{Entry: e})
			lsns = append(lsns, pglogrepl.LSN(e.CommitLSN).String())
		}
	}
	if err := c.prevHashes(ctx, lsns, out.Entries); err != nil {
		return out, err
	}
	if len(out.Entries) == 0 {
		return out, nil
	}
	newest := out.Entries[len(out.Entries)-1].CommitLSN
	checkpoints, err := c.checkpointsFrom(ctx, out.Entries[0].CommitLSN)
	if err != nil {
		return out, err
	}
	if len(checkpoints) == 0 || checkpoints[len(checkpoints)-1].HeadLSN < newest {
		cp, err := c.Checkpoint(ctx, ReasonEvidence)
		if err != nil {
			return out, err
		}
		checkpoints = append(checkpoints, cp)
	}
	i := 0
	for _, cp := range checkpoints {
		var indices []int
		var leaves []Hash
		var lsns []uint64
		for ; i < len(out.Entries) && out.Entries[i].CommitLSN <= cp.HeadLSN; i++ {
			if leaves == nil {
				if leaves, lsns, err = c.segment(ctx, cp); err != nil {
					return out, err
				}
			}
			e := &out.Entries[i]
			at, found := slices.BinarySearch(lsns, e.CommitLSN)
			if !found || leaves[at] != e.Hash {
				return out, fmt.Errorf("%w: checkpoint #%d does not hold entry %s", ErrCheckpointMismatch, cp.Seq, pglogrepl.LSN(e.CommitLSN))
			}
			e.Checkpoint, e.Index = cp.Seq, at
			indices = append(indices, at)
		}
		if len(indices) > 0 {
			out.Segments = append(out.Segments, SegmentProof{Checkpoint: cp, Proof: MerkleProof(leaves, indices)})
		}
	}
	if i < len(out.Entries) {
		return out, fmt.Errorf("ledger: entry %s is after every checkpoint", pglogrepl.LSN(out.Entries[i].CommitLSN))
	}
	return out, nil
}

// prevHashes sets each entry's previous hash: the newest entry or pruned
// range's anchor before it, in one statement of index lookups.
func (c *Checkpointer) prevHashes(ctx context.Context, lsns []string, entries []ProvenEntry) error {
	if len(lsns) == 0 {
		return nil
	}
	rows, err := c.store.pool.Query(ctx, `SELECT (SELECT p.hash FROM (
			(SELECT l.commit_lsn AS lsn, l.hash FROM auditd.ledger l WHERE l.commit_lsn < u.lsn::pg_lsn ORDER BY l.commit_lsn DESC LIMIT 1)
			UNION ALL
			(SELECT a.upto_lsn, a.hash FROM auditd.ledger_anchors a WHERE a.upto_lsn < u.lsn::pg_lsn ORDER BY a.upto_lsn DESC LIMIT 1)
		) p ORDER BY p.lsn DESC LIMIT 1)
		FROM unnest($1::text[]) WITH ORDINALITY AS u(lsn, i) ORDER BY u.i`, lsns)
	if err != nil {
		return fmt.Errorf("ledger: unable to read the previous hashes: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("ledger: unable to scan a previous hash: %w", err)
		}
		switch {
		case i >= len(entries):
			return fmt.Errorf("ledger: more previous hashes than entries")
		case h == nil: // the ledger's first entry
		case len(h) != HashSize:
			return fmt.Errorf("ledger: the entry before %s has a %d-byte hash", lsns[i], len(h))
		default:
			entries[i].Prev = Hash(h)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: unable to read the previous hashes: %w", err)
	}
	if i != len(entries) {
		return fmt.Errorf("ledger: %d previous hashes for %d entries", i, len(entries))
	}
	return nil
}

// checkpointsFrom returns, oldest first, the checkpoints whose segments
// end at or after lsn.
func (c *Checkpointer) checkpointsFrom(ctx context.Context, lsn uint64) ([]Checkpoint, error) {
	rows, err := c.store.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM auditd.ledger_checkpoints
		WHERE head_lsn >= $1::text::pg_lsn AND entries > 0 ORDER BY seq`, pglogrepl.LSN(lsn).String())
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger: unable to scan a checkpoint: %w", err)
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read checkpoints: %w", err)
	}
	return out, nil
}

// segment reads a checkpoint's entry hashes and checks them against what
// it signed.
func (c *Checkpointer) segment(ctx context.Context, cp Checkpoint) ([]Hash, []uint64, error) {
	var leaves []Hash
	var lsns []uint64
	err := pgx.BeginTxFunc(ctx, c.store.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		leaves, lsns, err = segmentLeaves(ctx, tx, cp.FromLSN, cp.HeadLSN)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(leaves) != cp.Entries || len(leaves) == 0 || leaves[len(leaves)-1] != cp.HeadHash || MerkleRoot(leaves) != cp.MerkleRoot {
		return nil, nil, fmt.Errorf("%w: checkpoint #%d (%d entries signed, %d in the ledger)", ErrCheckpointMismatch, cp.Seq, cp.Entries, len(leaves))
	}
	return leaves, lsns, nil
}
