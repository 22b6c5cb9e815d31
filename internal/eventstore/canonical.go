package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CanonicalEvent is an event as PostgreSQL prints its stored values (text
// output, TimeZone UTC, DateStyle ISO): the form the witness ledger hashes.
// pgoutput sends the same text to the live consumer, so the hash a
// verification recomputes from the table needs no re-encoding on either
// side. The byte slices are only valid until the next row is read.
type CanonicalEvent struct {
	Position int64
	// Xmin is the inserting transaction's id (32 bits, as the row stores
	// it): a back-fill groups the rows of one transaction into one entry.
	Xmin          int64
	StreamID      []byte
	Version       []byte
	EventType     []byte
	SchemaVersion []byte
	Payload       []byte
	Metadata      []byte
	RecordedAt    []byte
}

// ScanCanonical runs fn on every row of the event table whose
// position is in (after, upTo] (upTo 0: no bound), in position order, in one
// read-only transaction whose text output settings are fixed. With a
// snapshot name (one exported by CREATE_REPLICATION_SLOT) the rows read are
// exactly those committed before that snapshot.
//
// Before the rows, it calls start (when not nil) with the highest position
// the read will see, for progress reports.
func (s *Store) ScanCanonical(ctx context.Context, snapshot string, after, upTo int64, start func(last int64), fn func(*CanonicalEvent) error) error {
	return s.readCanonical(ctx, snapshot, func(tx pgx.Tx) error {
		if start != nil {
			var last int64
			if err := tx.QueryRow(ctx, s.sc.expand(`SELECT coalesce(max({position}), 0) FROM {events}`)).Scan(&last); err != nil {
				return fmt.Errorf("eventstore: unable to read the last position: %w", err)
			}
			start(last)
		}
		return scanCanonical(ctx, tx, fn, s.sc.canonicalFrom()+s.sc.expand(`
			{position} > $1 AND ($2 = 0 OR {position} <= $2) ORDER BY {position}`), after, upTo)
	})
}

// ScanStreamCanonical runs fn on every event of one stream, in version
// order (position order: the same, and index-served when versions are
// numbered).
func (s *Store) ScanStreamCanonical(ctx context.Context, streamID string, fn func(*CanonicalEvent) error) error {
	if !s.sc.accept("stream_id", streamID) {
		return nil
	}
	return s.readCanonical(ctx, "", func(tx pgx.Tx) error {
		return scanCanonical(ctx, tx, fn, s.sc.canonicalFrom()+s.sc.expand(`
			{stream_id} = $1{cast:stream_id} ORDER BY {position}`), streamID)
	})
}

// readCanonical runs read in a read-only repeatable-read transaction (in
// the exported snapshot, when named) with the text output settings the
// live consumer's replication connection uses.
func (s *Store) readCanonical(ctx context.Context, snapshot string, read func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("eventstore: unable to begin canonical read: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if snapshot != "" {
		// SET TRANSACTION takes no parameters: the name is quoted as a literal.
		if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT `+quoteLiteral(snapshot)); err != nil {
			return fmt.Errorf("eventstore: unable to import snapshot: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'`); err != nil {
		return fmt.Errorf("eventstore: unable to fix text output settings: %w", err)
	}
	return read(tx)
}

func scanCanonical(ctx context.Context, tx pgx.Tx, fn func(*CanonicalEvent) error, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("eventstore: unable to read canonical events: %w", err)
	}
	defer rows.Close()
	var e CanonicalEvent
	for rows.Next() {
		if err := rows.Scan(&e.Position, &e.Xmin, &e.StreamID, &e.Version, &e.EventType, &e.SchemaVersion, &e.Payload, &e.Metadata, &e.RecordedAt); err != nil {
			return fmt.Errorf("eventstore: unable to scan canonical event: %w", err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("eventstore: unable to read canonical events: %w", err)
	}
	return nil
}

// ScanCanonicalAt runs fn on the rows of the event table at
// positions (any order), in position order: the whole-store verification
// reads a ledger page's events with it.
func (s *Store) ScanCanonicalAt(ctx context.Context, positions []int64, fn func(*CanonicalEvent) error) error {
	return s.readCanonical(ctx, "", func(tx pgx.Tx) error {
		return scanCanonical(ctx, tx, fn, `SELECT `+s.sc.canonicalSelect()+s.sc.expand(` FROM {events}
			WHERE {position} = ANY($1) ORDER BY {position}`), positions)
	})
}

// ScanPositions calls fn with every position of the event table in
// (after, upTo], in order, a page at a time: the whole-store verification
// looks for rows the ledger never saw without reading their values.
func (s *Store) ScanPositions(ctx context.Context, after, upTo int64, fn func(position int64) error) error {
	const page = 10000
	for {
		rows, err := s.db.Query(ctx, s.sc.expand(`SELECT {position} FROM {events} WHERE {position} > $1 AND {position} <= $2 ORDER BY {position} LIMIT $3`), after, upTo, page)
		if err != nil {
			return fmt.Errorf("eventstore: unable to read positions: %w", err)
		}
		positions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("eventstore: unable to read positions: %w", err)
		}
		for _, p := range positions {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(positions) < page {
			return nil
		}
		after = positions[len(positions)-1]
	}
}
