package eventstore

import (
	"strings"
	"testing"
	"time"
)

// The statement templates and the predicate builder are the one place
// names come from: a schema filled differently (a foreign table whose
// columns are named otherwise, or missing and given as a constant) changes
// every statement without touching its SQL.
func TestSchemaExpandsNamesFromOnePlace(t *testing.T) {
	t.Parallel()
	foreign := &schema{
		events:      `app."domain_events"`,
		checkpoints: "app.positions",
		columns: map[string]string{
			"position": "%sid", "event_id": "%suuid", "stream_id": "%saggregate_id",
			"stream_type": "'Wallet'::text", "version": "%sversion", "event_type": "%sevent_type",
			"schema_version": "1", "payload": "%sdata", "metadata": "%smeta",
			"recorded_at": "%screated_at", "recorded_at_tz": "%screated_at",
		},
		selectAs:   map[string]string{"event_id": "::text"},
		checkpoint: map[string]string{"cp_name": "%sname", "cp_position": "%slast_position"},
		metaKeys:   map[string]string{MetaCorrelationID: "correlationId", MetaActor: "user's id"},
		collate:    ` COLLATE "C"`,
		textIDs:    true,
	}
	cases := []struct {
		sc         *schema
		tmpl, want string
	}{
		{native, `SELECT {*} FROM {events} WHERE {stream_id} = $1`,
			`SELECT position, event_id::text, stream_id, stream_type, version, event_type, schema_version, payload, metadata, recorded_at FROM events WHERE stream_id = $1`},
		{foreign, `SELECT {e.*} FROM {events} e`,
			`SELECT e.id AS position, e.uuid::text AS event_id, e.aggregate_id AS stream_id, 'Wallet'::text AS stream_type, e.version, e.event_type, 1 AS schema_version, e.data AS payload, e.meta AS metadata, e.created_at AS recorded_at FROM app."domain_events" e`},
		{foreign, `SELECT {cp_position} FROM {checkpoints} WHERE {cp_name} = $1`, `SELECT last_position FROM app.positions WHERE name = $1`},
		{foreign, `{e.meta:correlation_id}`, `e.meta->>'correlationId'`},
		// jsonb literals and operators are not names.
		{native, `SELECT '{a,b}'::text[], metadata ? 'x' FROM {events}`, `SELECT '{a,b}'::text[], metadata ? 'x' FROM events`},
	}
	for _, c := range cases {
		if got := c.sc.expand(c.tmpl); got != c.want {
			t.Errorf("expand(%q)\n got %q\nwant %q", c.tmpl, got, c.want)
		}
	}

	w := foreign.where("e", "first")
	w.cond("{version} = 1")
	w.eq("stream_type", "Wallet")
	w.streamIDPrefix("w_1%")
	w.metaEq(MetaActor, "alice")
	w.cmp("recorded_at", ">=", time.Time{})
	got := w.in(`SELECT {e.position} FROM {events} e WHERE {where}`) + ` LIMIT ` + w.arg(10)
	want := `SELECT e.id FROM app."domain_events" e WHERE e.version = 1 AND 'Wallet'::text = $2 AND e.aggregate_id COLLATE "C" LIKE $3` +
		` AND e.meta ? 'user''s id' AND e.meta->>'user''s id' = $4 AND e.created_at >= $5 LIMIT $6`
	if got != want {
		t.Errorf("predicates\n got %q\nwant %q", got, want)
	}
	if len(w.args) != 6 || w.args[0] != "first" || w.args[2] != `w\_1\%%` || w.args[3] != "alice" || w.args[5] != 10 {
		t.Errorf("args = %#v", w.args)
	}

	// A sub-select on another alias numbers its parameters after the outer
	// ones, and the outer statement continues after them.
	x := w.on("x")
	x.sameAs("stream_id", "h")
	x.eq("event_type", "Opened")
	w.merge(x)
	if got, want := x.sql(), `x.aggregate_id = h.aggregate_id AND x.event_type = $7`; got != want {
		t.Errorf("sub-select %q, want %q", got, want)
	}
	if got := w.arg(1); got != "$8" {
		t.Errorf("next parameter %s, want $8", got)
	}
	if got := native.where("").sql(); got != "true" {
		t.Errorf("no conditions: %q", got)
	}
	// A metadata key holding braces is never expanded as a name.
	odd := &schema{events: native.events, columns: native.columns, metaKeys: map[string]string{MetaActor: "{events}"}}
	w = odd.where("")
	w.metaEq(MetaActor, "a")
	if got := w.in(`SELECT 1 FROM {events} WHERE {where}`); !strings.Contains(got, `metadata->>'{events}' = $1`) {
		t.Errorf("metadata key expanded: %q", got)
	}
}
