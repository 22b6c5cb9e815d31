package eventstore

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DemoShapes are the table shapes `auditd demo --shape` writes its world
// into, to show it read through a source mapping: the demo plays the
// application that owns the table. Nothing else writes an application's
// table: a Store from NewMapped stays read-only.
var DemoShapes = []string{"seed-000", "seed-002", "seed-004"}

// demoShape is one shape: its tables, its mapping, and how a row is
// written.
type demoShape struct {
	ddl     string
	mapping string
	// columns of app.events a row is written to, and the row of an event
	// (its stream id already a uuid; revision the next global number).
	columns []string
	row     func(e *Event, revision int64) []any
	streams bool // stream types go to app.streams (the shape has no column for them)
}

// The shapes' tables live in schema app, as an application's would. The
// streams table gives seed 000 and 004, which have no stream type, the
// demo's several stream types through a join. seed 000 gets the index the
// setup page recommends on (aggregate_id, version).
var demoShapes = map[string]demoShape{
	"seed-000": {
		ddl: `CREATE SCHEMA IF NOT EXISTS app;
			CREATE TABLE IF NOT EXISTS app.events (
			    id BIGSERIAL PRIMARY KEY, aggregate_id UUID NOT NULL, event_type VARCHAR(50) NOT NULL,
			    payload JSONB NOT NULL, version INT NOT NULL, created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW());
			CREATE INDEX IF NOT EXISTS events_aggregate_version_idx ON app.events (aggregate_id, version);`,
		mapping: `{"table": "app.events",
			"columns": {"position": "id", "event_id": "id", "stream_id": "aggregate_id", "version": "version",
			            "event_type": "event_type", "payload": "payload", "recorded_at": "created_at"},
			"stream_type": {"join": {"table": "app.streams", "on": {"stream_id": "id"}, "column": "type"}}}`,
		columns: []string{"aggregate_id", "event_type", "payload", "version", "created_at"},
		row: func(e *Event, _ int64) []any {
			return []any{e.StreamID, e.EventType, []byte(e.Payload), int32(e.Version), e.RecordedAt}
		},
		streams: true,
	},
	"seed-002": {
		ddl: `CREATE SCHEMA IF NOT EXISTS app;
			CREATE TABLE IF NOT EXISTS app.events (
			    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregate_id uuid NOT NULL, aggregate_type text NOT NULL,
			    event_type text NOT NULL, event_version integer NOT NULL DEFAULT 1, data jsonb NOT NULL,
			    metadata jsonb NOT NULL, revision bigint NOT NULL UNIQUE, created_at timestamp NOT NULL DEFAULT now());
			CREATE INDEX IF NOT EXISTS idx_aggregate ON app.events (aggregate_id, aggregate_type);
			CREATE INDEX IF NOT EXISTS idx_event_type ON app.events (event_type);
			CREATE INDEX IF NOT EXISTS idx_created_at ON app.events (created_at);
			CREATE INDEX IF NOT EXISTS idx_correlation_id ON app.events ((metadata->>'correlationId'));`,
		mapping: `{"table": "app.events",
			"columns": {"position": "revision", "event_id": "id", "stream_id": "aggregate_id", "stream_type": "aggregate_type",
			            "version": null, "event_type": "event_type", "schema_version": "event_version", "payload": "data",
			            "metadata": "metadata", "recorded_at": "created_at"},
			"time_zone": "UTC",
			"metadata_keys": {"correlation_id": "correlationId", "causation_id": "causationId", "actor": "userId"}}`,
		columns: []string{"id", "aggregate_id", "aggregate_type", "event_type", "event_version", "data", "metadata", "revision", "created_at"},
		row: func(e *Event, revision int64) []any {
			return []any{e.EventID, e.StreamID, e.StreamType, e.EventType, int32(max(e.SchemaVersion, 1)), []byte(e.Payload),
				camelMetadata(e.Metadata), revision, e.RecordedAt.UTC().Format("2006-01-02 15:04:05.999999")}
		},
	},
	"seed-004": {
		ddl: `CREATE SCHEMA IF NOT EXISTS app;
			CREATE TABLE IF NOT EXISTS app.events (
			    id UUID PRIMARY KEY DEFAULT gen_random_uuid(), aggregate_id UUID NOT NULL, event_type VARCHAR(255) NOT NULL,
			    event_data JSONB NOT NULL, version INTEGER NOT NULL, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
			    UNIQUE (aggregate_id, version));
			CREATE INDEX IF NOT EXISTS idx_aggregate_id ON app.events (aggregate_id);`,
		mapping: `{"table": "app.events",
			"columns": {"position": null, "event_id": "id", "stream_id": "aggregate_id", "version": "version",
			            "event_type": "event_type", "payload": "event_data", "recorded_at": "timestamp"},
			"stream_type": {"join": {"table": "app.streams", "on": {"stream_id": "id"}, "column": "type"}},
			"time_zone": "UTC"}`,
		columns: []string{"id", "aggregate_id", "event_type", "event_data", "version", "timestamp"},
		row: func(e *Event, _ int64) []any {
			return []any{e.EventID, e.StreamID, e.EventType, []byte(e.Payload), int32(e.Version), e.RecordedAt.UTC().Format("2006-01-02 15:04:05.999999")}
		},
		streams: true,
	},
}

const demoStreamsDDL = `CREATE TABLE IF NOT EXISTS app.streams (id uuid PRIMARY KEY, type text NOT NULL);`

// camelMetadata renames the demo's metadata keys the way seed 002's
// application writes them.
func camelMetadata(raw json.RawMessage) []byte {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return []byte("{}")
	}
	for from, to := range map[string]string{MetaCorrelationID: "correlationId", MetaCausationID: "causationId", MetaActor: "userId"} {
		if v, ok := m[from]; ok {
			m[to] = v
			delete(m, from)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// DemoStreamID is the uuid a demo stream id ("wallet-dispute-0001") has in
// the shapes whose stream ids are uuids: name-based, so it is the same on
// every run.
func DemoStreamID(id string) string {
	if IsEventID(id) {
		return strings.ToLower(id)
	}
	sum := sha1.Sum([]byte("auditd-demo:" + id))
	sum[6] = (sum[6] & 0x0f) | 0x50
	sum[8] = (sum[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// OpenDemoShape creates the shape's tables in schema app when they are
// missing and returns the configuration's source section for them, and a
// Store reading them through it that the demo may also write (Import,
// Append).
func OpenDemoShape(ctx context.Context, pool *pgxpool.Pool, name string) (*Store, []byte, error) {
	sh, ok := demoShapes[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown --shape %q: want one of %s", name, strings.Join(DemoShapes, ", "))
	}
	ddl := sh.ddl
	if sh.streams {
		ddl += demoStreamsDDL
	}
	if _, err := pool.Exec(ctx, ddl); err != nil {
		return nil, nil, fmt.Errorf("eventstore: unable to create the %s demo tables: %w", name, err)
	}
	source := []byte(`{"source": ` + sh.mapping + `}`)
	m, err := ParseMapping(source)
	if err != nil {
		return nil, nil, err
	}
	cat, err := m.Validate(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	s, err := NewMapped(pool, m, cat)
	if err != nil {
		return nil, nil, err
	}
	s.demo = &sh
	return s, source, nil
}

// importShape writes complete events into a demo shape's tables: the demo
// world's bulk load and the generator's appends.
func (s *Store) importShape(ctx context.Context, tx pgx.Tx, events []Event) (int64, error) {
	sh := s.demo
	var next int64
	if slices.Contains(sh.columns, "revision") {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(revision), 0) FROM app.events`).Scan(&next); err != nil {
			return 0, fmt.Errorf("eventstore: unable to read the last revision: %w", err)
		}
	}
	rows := make([][]any, len(events))
	types := map[string]string{}
	for i := range events {
		e := &events[i]
		e.StreamID = DemoStreamID(e.StreamID)
		if e.EventID == "" {
			e.EventID = NewEventID()
		}
		if e.RecordedAt.IsZero() {
			e.RecordedAt = time.Now()
		}
		next++
		rows[i] = sh.row(e, next)
		types[e.StreamID] = e.StreamType
	}
	if sh.streams {
		ids, kinds := make([]string, 0, len(types)), make([]string, 0, len(types))
		for id, t := range types {
			ids, kinds = append(ids, id), append(kinds, t)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO app.streams (id, type) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING`, ids, kinds); err != nil {
			return 0, fmt.Errorf("eventstore: unable to write demo streams: %w", err)
		}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"app", "events"}, sh.columns, pgx.CopyFromRows(rows))
	if err != nil {
		return n, fmt.Errorf("eventstore: unable to write demo events: %w", err)
	}
	return n, nil
}

// importDemo is Import on a demo shape, in one transaction per batch.
func (s *Store) importDemo(ctx context.Context, events []Event) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to write demo events: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	n, err := s.importShape(ctx, tx, slices.Clone(events))
	if err == nil {
		err = tx.Commit(ctx)
	}
	return n, err
}

// appendDemo is Append on a demo shape: the version check and the rows in
// one transaction, the stream locked against another demo writer.
func (s *Store) appendDemo(ctx context.Context, streamID, streamType string, expected int, events []NewEvent) ([]Event, error) {
	if err := validateNew(streamID, streamType, events); err != nil {
		return nil, err
	}
	id := DemoStreamID(streamID)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to append to stream %q: %w", streamID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, id); err != nil {
		return nil, fmt.Errorf("eventstore: unable to append to stream %q: %w", streamID, err)
	}
	var current int
	if err := tx.QueryRow(ctx, s.sc.expand(`SELECT coalesce(max({version}), 0) FROM {events} WHERE {stream_id} = $1{cast:stream_id}`), id).Scan(&current); err != nil {
		return nil, fmt.Errorf("eventstore: unable to read stream head %q: %w", streamID, err)
	}
	if expected != AnyVersion && expected != current {
		return nil, &VersionConflictError{StreamID: streamID, Expected: expected, Actual: current}
	}
	out := make([]Event, len(events))
	for i, ne := range events {
		out[i] = Event{EventID: ne.EventID, StreamID: streamID, StreamType: streamType, Version: current + 1 + i, EventType: ne.EventType,
			SchemaVersion: max(ne.SchemaVersion, 1), Payload: ne.Payload, Metadata: ne.Metadata, RecordedAt: ne.RecordedAt}
		if out[i].RecordedAt.IsZero() {
			out[i].RecordedAt = time.Now()
		}
	}
	if _, err := s.importShape(ctx, tx, out); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("eventstore: unable to append to stream %q: %w", streamID, err)
	}
	return out, nil
}
