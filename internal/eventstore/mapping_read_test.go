package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// mappedStore runs sql in a fresh database and returns a Store reading it
// through mapping.
func mappedStore(t *testing.T, sql, mapping string) *eventstore.Store {
	t.Helper()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), sql); err != nil {
		t.Fatal(err)
	}
	m, err := eventstore.ParseMapping([]byte(mapping))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := m.Validate(t.Context(), db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	s, err := eventstore.NewMapped(db.Pool, m, cat)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An unusual table: text stream ids, text event ids, json payload, text
// metadata, a text schema version, the stream type joined from another
// table, archived rows and housekeeping streams filtered out.
const oddTableSQL = `
CREATE SCHEMA app;
CREATE TABLE app.streams (id text PRIMARY KEY, kind varchar(20) NOT NULL);
CREATE TABLE app.log (
    seq integer PRIMARY KEY,
    ref text NOT NULL UNIQUE,
    stream text NOT NULL,
    n bigint NOT NULL,
    kind varchar(40) NOT NULL,
    rev text,
    body json NOT NULL,
    meta text NOT NULL,
    at timestamptz NOT NULL,
    is_archived boolean NOT NULL DEFAULT false,
    tenant text
);
INSERT INTO app.streams VALUES ('cart-1', 'Cart'), ('cart-2', 'Cart'), ('$stats', 'System');
INSERT INTO app.log VALUES
 (1, 'e-1', 'cart-1', 1, 'Opened',  'v2', '{"items": 0}',  '{"userId": "u-1", "correlationId": "c-1"}', '2026-03-01 10:00Z', false, 'a'),
 (2, 'e-2', 'cart-1', 2, 'Added',   NULL, '{"items": 1}',  '{"userId": "u-2", "causationId": "e-1"}',   '2026-03-01 10:01Z', false, 'a'),
 (3, 'e-3', 'cart-1', 3, 'Removed', '1',  '{"items": 0}',  'not json {',                               '2026-03-01 10:02Z', true,  'a'),
 (4, 'e-4', '$stats', 1, 'Tick',    NULL, '{}',            '{}',                                       '2026-03-01 10:03Z', false, 'a'),
 (5, 'e-5', 'cart-2', 1, 'Opened',  NULL, '{"items": 0}',  '{"correlationId": "c-1"}',                 '2026-03-01 10:04Z', false, 'it''s b');`

const oddMapping = `{"source": {
	"table": "app.log",
	"columns": {"position": "seq", "event_id": "ref", "stream_id": "stream", "version": "n", "event_type": "kind",
	            "schema_version": "rev", "payload": "body", "metadata": "meta", "recorded_at": "at"},
	"stream_type": {"join": {"table": "app.streams", "on": {"stream_id": "id"}, "column": "kind"}},
	"metadata_keys": {"correlation_id": "correlationId", "causation_id": "causationId", "actor": "userId"},
	"where": {"is_archived": false},
	"exclude_streams": {"prefix": ["$"]}
}}`

func TestMappedSourceOfUnusualTypesAndFilters(t *testing.T) {
	t.Parallel()
	s := mappedStore(t, oddTableSQL, oddMapping)
	ctx := t.Context()
	events, err := s.ReadStream(ctx, eventstore.StreamQuery{StreamID: "cart-1"})
	if err != nil {
		t.Fatal(err)
	}
	// The archived row (3) is not read; the join gives the type; "v2" is
	// schema version 2; a NULL one is 1.
	if len(events) != 2 || events[0].StreamType != "Cart" || events[0].SchemaVersion != 2 || events[1].SchemaVersion != 1 || events[0].EventID != "e-1" {
		t.Fatalf("cart-1 = %+v", events)
	}
	if events[0].Actor() != "u-1" || string(events[1].Payload) != `{"items": 1}` {
		t.Errorf("actor %q, payload %s", events[0].Actor(), events[1].Payload)
	}
	log, err := s.ReadLog(ctx, eventstore.LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var positions []int64
	for _, e := range log {
		positions = append(positions, e.Position)
	}
	if len(log) != 3 || positions[0] != 5 || positions[2] != 1 {
		t.Errorf("log positions = %v, want 5, 2, 1 (no archived row, no $ stream)", positions)
	}
	// Metadata filters on a text column.
	byActor, err := s.ReadLog(ctx, eventstore.LogQuery{Actor: "u-2"})
	if err != nil || len(byActor) != 1 || byActor[0].Position != 2 {
		t.Errorf("log of actor u-2 = %+v, %v", byActor, err)
	}
	corr, err := s.Correlated(ctx, "c-1", 0)
	if err != nil || len(corr) != 2 {
		t.Errorf("correlated c-1 = %+v, %v", corr, err)
	}
	// Event ids of type text; the causation walk compares in that type.
	ev, err := s.EventByID(ctx, "e-2")
	if err != nil {
		t.Fatal(err)
	}
	causes, err := s.Causes(ctx, &ev, 0)
	if err != nil || len(causes) != 1 || causes[0].EventID != "e-1" {
		t.Errorf("causes of e-2 = %+v, %v", causes, err)
	}
	if _, err := s.EventByID(ctx, "e-4"); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Errorf("an excluded stream's event: %v, want not found", err)
	}
	streams, err := s.ListStreams(ctx, eventstore.StreamListQuery{})
	if err != nil || len(streams) != 2 || streams[0].StreamID != "cart-1" || streams[1].StreamType != "Cart" {
		t.Errorf("streams = %+v, %v", streams, err)
	}
}

// A where value holding quotes, percent signs or braces is a value, never
// SQL nor a template name.
func TestMappedSourceWhereValuesAreData(t *testing.T) {
	t.Parallel()
	for _, v := range []string{`it''s b`, `%s{events}`, `a'); DROP TABLE app.log; --`} {
		mapping := strings.Replace(oddMapping, `"where": {"is_archived": false}`, `"where": {"tenant": "`+strings.ReplaceAll(v, "''", "'")+`"}`, 1)
		s := mappedStore(t, oddTableSQL, mapping)
		log, err := s.ReadLog(t.Context(), eventstore.LogQuery{})
		if err != nil {
			t.Fatalf("tenant %q: %v", v, err)
		}
		want := 0
		if v == `it''s b` {
			want = 1
		}
		if len(log) != want {
			t.Errorf("tenant %q: %d events, want %d", v, len(log), want)
		}
	}
}

// A column auditd cannot read is refused naming the key, the type and what
// it can read.
func TestMappedSourceRefusesUnusableTypes(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), oddTableSQL); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new, want string }{
		{`"payload": "body"`, `"payload": "is_archived"`, `source.columns.payload: column "is_archived" is boolean: want jsonb, json, or text holding JSON`},
		{`"recorded_at": "at"`, `"recorded_at": "kind"`, `source.columns.recorded_at: column "kind" is character varying(40)`},
		{`"position": "seq"`, `"position": "ref"`, `source.columns.position: column "ref" is text: want bigint or integer`},
		{`"column": "kind"`, `"column": "knd"`, `source.stream_type.join.column: column "knd" not found in app.streams; it has id, kind (nearest: "kind")`},
	} {
		m, err := eventstore.ParseMapping([]byte(strings.Replace(oddMapping, c.old, c.new, 1)))
		if err != nil {
			t.Fatal(err)
		}
		cat, err := m.Validate(t.Context(), db.Pool)
		if err == nil {
			_, err = eventstore.NewMapped(db.Pool, m, cat)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.new, err, c.want)
		}
	}
}
