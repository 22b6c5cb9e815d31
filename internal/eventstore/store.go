package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store reads and appends events. It is safe for concurrent use.
type Store struct {
	db   DB            // where statements run: the pool, or a transaction (InTx)
	pool *pgxpool.Pool // the pool, for packages owning other tables
	sc   *schema
	// source fingerprints the source mapping ("" for auditd's own schema).
	source string
	// demo, on a Store from OpenDemoShape, writes the demo into the
	// shape's tables: the one mapped Store that Append and Import write.
	demo *demoShape
	// aggregateCounts: auditd's own schema is in another database, so the
	// counts are one aggregate over the table (WithoutCountTables).
	aggregateCounts bool
}

// New returns a Store on pool. The schema must already be migrated.
func New(pool *pgxpool.Pool) *Store {
	return &Store{db: pool, pool: pool, sc: native}
}

// InTx returns a Store whose statements run in tx, so that a caller can read
// events, checkpoints and tables of its own in one snapshot (drift checks) or
// write them in one transaction (the demo projections). It is valid as long
// as tx is.
func (s *Store) InTx(tx pgx.Tx) *Store {
	return &Store{db: tx, pool: s.pool, sc: s.sc, source: s.source, aggregateCounts: s.aggregateCounts}
}

// SourceFingerprint identifies the source mapping the Store reads through
// ("" for auditd's own schema): states folded from a table depend on how
// it is mapped, so snapshots are keyed by it too.
func (s *Store) SourceFingerprint() string { return s.source }

// Pool exposes the pool for packages that own other tables of the same
// database (auditd's schema).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// scanEvent reads one row of the event select list ({*} in a statement
// template), followed by extra destinations when the statement selects more.
func (sc *schema) scanEvent(row pgx.Row, e *Event, extra ...any) error {
	var payload, metadata []byte
	dest := append([]any{&e.Position, &e.EventID, &e.StreamID, &e.StreamType, &e.Version, &e.EventType, &e.SchemaVersion, &payload, &metadata, &e.RecordedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	e.Payload = json.RawMessage(payload)
	e.Metadata = json.RawMessage(metadata)
	e.metaKeys = sc.renamedKeys
	if sc.readOnly {
		e.flagRow()
	}
	return nil
}

// queryEvents runs a statement selecting the event select list and scans
// every row; what names the read in the error.
func (s *Store) queryEvents(ctx context.Context, what, sql string, args []any) ([]Event, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err == nil {
		var events []Event
		if events, err = s.sc.collectEvents(rows); err == nil {
			return events, nil
		}
	}
	return nil, fmt.Errorf("eventstore: unable to read %s: %w", what, err)
}

func (sc *schema) collectEvents(rows pgx.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := sc.scanEvent(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// isJSONObject reports whether raw is a syntactically valid JSON object.
func isJSONObject(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

func validateNew(streamID, streamType string, events []NewEvent) error {
	if strings.TrimSpace(streamID) == "" {
		return ErrEmptyStreamID
	}
	if strings.TrimSpace(streamType) == "" {
		return ErrEmptyStreamType
	}
	if len(events) == 0 {
		return ErrNoEvents
	}
	for i, e := range events {
		if strings.TrimSpace(e.EventType) == "" {
			return fmt.Errorf("%w (event %d)", ErrEmptyEventType, i)
		}
		if !isJSONObject(e.Payload) {
			return fmt.Errorf("%w (event %d, %s)", ErrInvalidPayload, i, e.EventType)
		}
		if len(e.Metadata) > 0 && !isJSONObject(e.Metadata) {
			return fmt.Errorf("%w (event %d, %s)", ErrInvalidMetadata, i, e.EventType)
		}
	}
	return nil
}

// ErrStreamTypeMismatch is returned when appending to an existing stream with
// another stream type than the one it was opened with.
var ErrStreamTypeMismatch = errors.New("eventstore: stream type does not match the stream's existing type")

// Append appends events to one stream, all or nothing. expectedVersion is the
// stream's current version as the caller last saw it (NoStream for a new
// stream, AnyVersion to skip the check). When another writer got there first,
// Append returns a *VersionConflictError carrying the actual version.
//
// Concurrency rests on the UNIQUE (stream_id, version) constraint: of two
// transactions inserting the same next version, the second blocks on the
// index until the first commits and then fails with a unique violation.
func (s *Store) Append(ctx context.Context, streamID, streamType string, expectedVersion int, events ...NewEvent) ([]Event, error) {
	if s.demo != nil {
		return s.appendDemo(ctx, streamID, streamType, expectedVersion, events)
	}
	if s.sc.readOnly {
		return nil, ErrReadOnly
	}
	if err := validateNew(streamID, streamType, events); err != nil {
		return nil, err
	}
	if expectedVersion < AnyVersion {
		return nil, fmt.Errorf("eventstore: invalid expected version %d", expectedVersion)
	}
	ids := make([]*string, len(events))
	types := make([]string, len(events))
	schemaVersions := make([]int32, len(events))
	payloads := make([]string, len(events))
	metas := make([]string, len(events))
	times := make([]*time.Time, len(events))
	for i, e := range events {
		if e.EventID != "" {
			id := e.EventID
			ids[i] = &id
		}
		types[i] = e.EventType
		schemaVersions[i] = int32(max(e.SchemaVersion, 1))
		payloads[i] = string(e.Payload)
		metas[i] = "{}"
		if len(e.Metadata) > 0 {
			metas[i] = string(e.Metadata)
		}
		if !e.RecordedAt.IsZero() {
			t := e.RecordedAt
			times[i] = &t
		}
	}

	// AnyVersion retries a lost race instead of reporting it: the caller did
	// not ask for a check.
	for attempt := 0; ; attempt++ {
		out, err := s.appendOnce(ctx, streamID, streamType, expectedVersion, ids, types, schemaVersions, payloads, metas, times)
		if err != nil && expectedVersion == AnyVersion && errors.Is(err, ErrVersionConflict) && attempt < 5 {
			continue
		}
		return out, err
	}
}

func (s *Store) appendOnce(ctx context.Context, streamID, streamType string, expected int, ids []*string, types []string, schemaVersions []int32, payloads, metas []string, times []*time.Time) ([]Event, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to begin append: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	current, currentType, err := s.streamHead(ctx, tx, streamID)
	if err != nil {
		return nil, err
	}
	if current > 0 && currentType != streamType {
		return nil, fmt.Errorf("%w: stream %q is a %q, not a %q", ErrStreamTypeMismatch, streamID, currentType, streamType)
	}
	if expected != AnyVersion && expected != current {
		return nil, &VersionConflictError{StreamID: streamID, Expected: expected, Actual: current}
	}

	rows, err := tx.Query(ctx, s.sc.expand(`
		INSERT INTO {events} ({event_id}, {stream_id}, {stream_type}, {version}, {event_type}, {schema_version}, {payload}, {metadata}, {recorded_at})
		SELECT coalesce(u.event_id, gen_random_uuid()), $1, $2, $3 + u.ord::integer, u.event_type, u.schema_version,
		       u.payload, u.metadata, coalesce(u.recorded_at, clock_timestamp())
		FROM unnest($4::uuid[], $5::text[], $6::integer[], $7::jsonb[], $8::jsonb[], $9::timestamptz[])
		     WITH ORDINALITY AS u(event_id, event_type, schema_version, payload, metadata, recorded_at, ord)
		ORDER BY u.ord
		RETURNING {*}`),
		streamID, streamType, current, ids, types, schemaVersions, payloads, metas, times)
	var out []Event
	if err == nil {
		out, err = s.sc.collectEvents(rows)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_stream_version_key" {
			// Another writer committed this version first: report what the
			// stream is at now.
			actual, _, herr := s.streamHead(ctx, s.db, streamID)
			if herr != nil {
				actual = current + 1
			}
			return nil, &VersionConflictError{StreamID: streamID, Expected: expected, Actual: actual}
		}
		return nil, fmt.Errorf("eventstore: unable to append to stream %q: %w", streamID, err)
	}
	return out, nil
}

// streamHead returns a stream's current version and type (0, "" when absent).
func (s *Store) streamHead(ctx context.Context, q DB, streamID string) (int, string, error) {
	var v int
	var t string
	err := q.QueryRow(ctx, s.sc.expand(`SELECT {version}, {stream_type} FROM {events} WHERE {stream_id} = $1 ORDER BY {version} DESC LIMIT 1`), streamID).Scan(&v, &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("eventstore: unable to read stream head %q: %w", streamID, err)
	}
	return v, t, nil
}

// Import bulk-loads complete events with COPY: the demo generator and
// benchmarks use it. Versions must already be assigned and consistent; the
// database still enforces UNIQUE (stream_id, version). Positions follow the
// order of events.
func (s *Store) Import(ctx context.Context, events []Event) (int64, error) {
	if len(events) == 0 {
		return 0, nil
	}
	if s.demo != nil {
		return s.importDemo(ctx, events)
	}
	if s.sc.readOnly {
		return 0, ErrReadOnly
	}
	for i := range events {
		e := &events[i]
		if e.StreamID == "" {
			return 0, fmt.Errorf("%w (import row %d)", ErrEmptyStreamID, i)
		}
		if !isJSONObject(e.Payload) {
			return 0, fmt.Errorf("%w (import row %d)", ErrInvalidPayload, i)
		}
	}
	src := pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
		e := &events[i]
		// COPY does not apply column defaults to explicit NULLs.
		id := e.EventID
		if id == "" {
			id = NewEventID()
		}
		meta := []byte("{}")
		if len(e.Metadata) > 0 {
			meta = e.Metadata
		}
		recorded := e.RecordedAt
		if recorded.IsZero() {
			recorded = time.Now()
		}
		return []any{id, e.StreamID, e.StreamType, int32(e.Version), e.EventType, int32(max(e.SchemaVersion, 1)), []byte(e.Payload), meta, recorded}, nil
	})
	// Import writes auditd's own schema only: the names are the native ones.
	n, err := s.db.CopyFrom(ctx, pgx.Identifier{native.events},
		[]string{"event_id", "stream_id", "stream_type", "version", "event_type", "schema_version", "payload", "metadata", "recorded_at"}, src)
	if err != nil {
		return n, fmt.Errorf("eventstore: unable to import events: %w", err)
	}
	return n, nil
}

// MetadataKey is the key of the metadata object that holds the logical key
// (MetaActor, MetaCorrelationID, …) in this store's events: a source mapping
// may name it otherwise.
func (s *Store) MetadataKey(logical string) string { return s.sc.metaKey(logical) }
