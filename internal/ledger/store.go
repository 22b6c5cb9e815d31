package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store holds the SQL on auditd.ledger.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool; the schema must be migrated.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Head returns the last entry's commit LSN and hash; zero values when the
// ledger is empty.
func (s *Store) Head(ctx context.Context) (uint64, Hash, error) {
	var lsn pglogrepl.LSN
	var h []byte
	err := s.pool.QueryRow(ctx, `SELECT l.commit_lsn::text, l.hash FROM auditd.ledger l ORDER BY l.commit_lsn DESC LIMIT 1`).Scan(&lsn, &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, Hash{}, nil
	}
	if err != nil {
		return 0, Hash{}, fmt.Errorf("ledger: unable to read the head: %w", err)
	}
	var out Hash
	if len(h) != HashSize {
		return 0, Hash{}, fmt.Errorf("ledger: the head entry %s has a %d-byte hash", lsn, len(h))
	}
	copy(out[:], h)
	return uint64(lsn), out, nil
}

// Insert appends entries (in commit order, hashes set) and their rows of
// auditd.ledger_streams in one statement, so the by-stream index never
// lags or leads the ledger.
func (s *Store) Insert(ctx context.Context, entries []Entry) error {
	n := len(entries)
	lsns, xids := make([]string, n), make([]int64, n)
	times, backfilled := make([]*time.Time, n), make([]bool, n)
	packed, hashes := make([][]byte, n), make([][]byte, n)
	var idx streamRows
	for i := range entries {
		e := &entries[i]
		lsns[i], xids[i], backfilled[i] = pglogrepl.LSN(e.CommitLSN).String(), e.Xid, e.Backfilled
		if !e.CommittedAt.IsZero() {
			times[i] = &e.CommittedAt
		}
		packed[i], hashes[i] = Pack(e.Events), e.Hash[:]
		idx.add(e)
	}
	_, err := s.pool.Exec(ctx, `WITH l AS (
			INSERT INTO auditd.ledger (commit_lsn, xid, committed_at, backfilled, events, hash)
			SELECT l::pg_lsn, x, t, b, e, h FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::bool[], $5::bytea[], $6::bytea[]) AS u(l, x, t, b, e, h))
		INSERT INTO auditd.ledger_streams (stream_id, last_version, first_version, commit_lsn)
		SELECT s, lv, fv, l::pg_lsn FROM unnest($7::text[], $8::int[], $9::int[], $10::text[]) AS u(s, lv, fv, l)`,
		lsns, xids, times, backfilled, packed, hashes, idx.streams, idx.last, idx.first, idx.lsns)
	if err != nil {
		return fmt.Errorf("ledger: unable to write %d entries: %w", n, err)
	}
	return nil
}

// streamRows are rows of auditd.ledger_streams, as columns.
type streamRows struct {
	streams     []string
	last, first []int32
	lsns        []string
}

// add appends e's rows: one per stream, with its version range.
func (r *streamRows) add(e *Entry) {
	lsn := pglogrepl.LSN(e.CommitLSN).String()
	start := len(r.streams)
	for _, ev := range e.Events {
		i := slices.Index(r.streams[start:], ev.StreamID)
		if i < 0 {
			r.streams, r.lsns = append(r.streams, ev.StreamID), append(r.lsns, lsn)
			r.last, r.first = append(r.last, int32(ev.Version)), append(r.first, int32(ev.Version))
			continue
		}
		i += start
		r.last[i], r.first[i] = max(r.last[i], int32(ev.Version)), min(r.first[i], int32(ev.Version))
	}
}

// Reindex fills auditd.ledger_streams for a ledger written before it
// existed (migration 009): when the index is empty and the ledger is not,
// every entry is indexed in one transaction. Insert keeps it complete from
// then on, so a non-empty index means a complete one.
func (s *Store) Reindex(ctx context.Context) (int, error) {
	var need bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auditd.ledger) AND NOT EXISTS (SELECT 1 FROM auditd.ledger_streams)`).Scan(&need); err != nil {
		return 0, fmt.Errorf("ledger: unable to check the stream index: %w", err)
	}
	if !need {
		return 0, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to begin reindexing: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	n := 0
	err = s.walk(ctx, 0, func(e *Entry) error {
		var idx streamRows
		idx.add(e)
		n++
		_, err := tx.Exec(ctx, `INSERT INTO auditd.ledger_streams (stream_id, last_version, first_version, commit_lsn)
			SELECT s, lv, fv, l::pg_lsn FROM unnest($1::text[], $2::int[], $3::int[], $4::text[]) AS u(s, lv, fv, l)`,
			idx.streams, idx.last, idx.first, idx.lsns)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to reindex: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("ledger: unable to commit the stream index: %w", err)
	}
	return n, nil
}

// walk calls fn on every entry after commit LSN after, in commit order, a
// page at a time.
func (s *Store) walk(ctx context.Context, after uint64, fn func(*Entry) error) error {
	for {
		entries, err := s.Entries(ctx, after, walkPage)
		if err != nil {
			return err
		}
		for i := range entries {
			if err := fn(&entries[i]); err != nil {
				return err
			}
			after = entries[i].CommitLSN
		}
		if len(entries) < walkPage {
			return nil
		}
	}
}

// walkPage is how many entries one read of walk covers.
const walkPage = 1000

// Entries returns up to limit entries after commit LSN after, in commit order.
func (s *Store) Entries(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	// The table's column, not the text output column of the same name, is
	// the order: as text "0/10" sorts before "0/9".
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+`
		FROM auditd.ledger l WHERE l.commit_lsn > $1::text::pg_lsn ORDER BY l.commit_lsn LIMIT $2`,
		pglogrepl.LSN(after).String(), limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read entries: %w", err)
	}
	return collectEntries(rows)
}

// StreamEntries returns the entries that hold events of streamID, through
// auditd.ledger_streams, in commit order; with versions > 0, only those
// holding a version in [from, to].
func (s *Store) StreamEntries(ctx context.Context, streamID string, from, to int) ([]Entry, error) {
	if to <= 0 {
		from, to = 0, 1<<31-1
	}
	// A stream's entries hold disjoint version ranges, so in last_version
	// order those reaching [from, to] come first and number at most
	// to-from+1: the limit (with room for a version witnessed twice, after
	// tampering) stops the index scan there instead of at the stream's end,
	// which keeps an old timeline page of a huge stream cheap.
	limit := min(int64(to-from)*2+16, 1<<31-1)
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+`
		FROM auditd.ledger l
		WHERE l.commit_lsn IN (SELECT x.commit_lsn FROM (SELECT s.commit_lsn, s.first_version FROM auditd.ledger_streams s
			WHERE s.stream_id = $1 AND s.last_version >= $2 ORDER BY s.last_version LIMIT $4) x WHERE x.first_version <= $3)
		ORDER BY l.commit_lsn`, streamID, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the entries of %q: %w", streamID, err)
	}
	return collectEntries(rows)
}

// entryColumns is the select list collectEntries scans.
const entryColumns = `l.commit_lsn::text, l.xid, l.committed_at, l.backfilled, l.events, l.hash`

// collectEntries scans entryColumns rows.
func collectEntries(rows pgx.Rows) ([]Entry, error) {
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var lsn pglogrepl.LSN
		var at *time.Time
		var packed, h []byte
		if err := rows.Scan(&lsn, &e.Xid, &at, &e.Backfilled, &packed, &h); err != nil {
			return nil, fmt.Errorf("ledger: unable to scan an entry: %w", err)
		}
		e.CommitLSN = uint64(lsn)
		if at != nil {
			e.CommittedAt = *at
		}
		var err error
		if e.Events, err = Unpack(packed); err != nil {
			return nil, fmt.Errorf("ledger: entry %s: %w", lsn, err)
		}
		if len(h) != HashSize {
			return nil, fmt.Errorf("ledger: entry %s has a %d-byte hash", lsn, len(h))
		}
		copy(e.Hash[:], h)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read entries: %w", err)
	}
	return out, nil
}

// ErrBrokenChain is returned by VerifyChain when an entry's hash does not
// follow from the previous one.
var ErrBrokenChain = errors.New("ledger: broken hash chain")

// VerifyChain recomputes every entry's hash from the last pruned range's
// anchor (the first entry's zero hash when nothing was pruned) and returns
// how many entries it checked.
func (s *Store) VerifyChain(ctx context.Context) (int, error) {
	after, prev, err := s.lastAnchor(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.walk(ctx, after, func(e *Entry) error {
		if e.ChainHash(prev) != e.Hash {
			return fmt.Errorf("%w at entry %s", ErrBrokenChain, pglogrepl.LSN(e.CommitLSN))
		}
		prev = e.Hash
		n++
		return nil
	})
	return n, err
}

// LastPosition returns the highest event position of the last back-filled
// entry and of the head entry (0 for an empty ledger): a back-fill in
// position order continues after it. Reading two entries, not the whole
// ledger, is enough because back-fills run in position order and live
// entries follow them.
func (s *Store) LastPosition(ctx context.Context) (int64, error) {
	last, err := s.maxPosition(ctx, `
		(SELECT events FROM auditd.ledger WHERE backfilled ORDER BY commit_lsn DESC LIMIT 1)
		UNION ALL
		(SELECT events FROM auditd.ledger ORDER BY commit_lsn DESC LIMIT 1)`)
	if err != nil {
		return 0, fmt.Errorf("ledger: unable to read the last position: %w", err)
	}
	return last, nil
}

// maxPosition returns the highest event position in the packed events
// query returns (0 for none).
func (s *Store) maxPosition(ctx context.Context, query string, args ...any) (int64, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var packed []byte
		if err := rows.Scan(&packed); err != nil {
			return 0, err
		}
		events, err := Unpack(packed)
		if err != nil {
			return 0, err
		}
		for _, e := range events {
			last = max(last, e.Position)
		}
	}
	return last, rows.Err()
}

// Entry returns the entry committed at lsn, or nil when there is none.
func (s *Store) Entry(ctx context.Context, lsn uint64) (*Entry, error) {
	entries, err := s.Entries(ctx, lsn-1, 1)
	if err != nil || len(entries) == 0 || entries[0].CommitLSN != lsn {
		return nil, err
	}
	return &entries[0], nil
}
