package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// detect on each seed shape proposes a configuration, notes its guesses,
// and the proposal then reads the table (the round trip).
func TestDetectEachSeedShape(t *testing.T) {
	t.Parallel()
	const stream = "7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10"
	cases := []struct {
		name, sql, rows string
		want, notes     []string
		serves          bool
	}{
		{"seed-000", pgtest.Seed000SQL, `INSERT INTO public.events (aggregate_id, event_type, payload, version) VALUES ('` + stream + `', 'Opened', '{}', 1), ('` + stream + `', 'Paid', '{}', 2)`,
			[]string{`"position": "id"`, `"stream_id": "aggregate_id"`, `"metadata": null`, `"stream_type": "Stream"`}, []string{"stream_type: none found", "metadata: none found"}, true},
		{"seed-001", pgtest.Seed001SQL, `INSERT INTO public.events (id, aggregate_id, event_type, event_data, version) VALUES (gen_random_uuid(), '` + stream + `', 'Opened', '{}', 1), (gen_random_uuid(), '` + stream + `', 'Paid', '{}', 2)`,
			[]string{`"payload": "event_data"`, `"position": null`, `"event_id": "id"`}, []string{"position: none found"}, false},
		{"seed-002", pgtest.Seed002SQL, `INSERT INTO public.events (aggregate_id, aggregate_type, event_type, data, metadata, revision) VALUES ('` + stream + `', 'Order', 'Opened', '{}', '{}', 10), ('` + stream + `', 'Order', 'Paid', '{}', '{}', 11)`,
			[]string{`"position": "revision"`, `"version": null`, `"schema_version": "event_version"`, `"stream_type": "aggregate_type"`}, []string{"version: none found; events are numbered per stream in position order", `time_zone: "created_at" has no time zone`}, true},
		{"seed-003", pgtest.Seed003SQL, `INSERT INTO public.events (aggregate_id, type, version, payload) VALUES ('` + stream + `', 'Opened', 1, '{}'), ('` + stream + `', 'Paid', 2, '{}')`,
			[]string{`"event_type": "type"`, `"recorded_at": "occurred_at"`, `"position": "id"`}, nil, true},
		{"seed-004", pgtest.Seed004SQL, `INSERT INTO public.events (aggregate_id, event_type, event_data, version) VALUES ('` + stream + `', 'Opened', '{}', 1), ('` + stream + `', 'Paid', '{}', 2)`,
			[]string{`"position": null`, `"recorded_at": "timestamp"`, `"event_id": "id"`}, []string{"position: none found; the global log is ordered by time"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			public := strings.NewReplacer("CREATE SCHEMA app;", "", "app.", "public.").Replace(c.sql)
			if _, err := db.Pool.Exec(t.Context(), pgtest.DropNativeSQL+public+";"+c.rows); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), []string{"detect", "--database-url", db.ConnString}, &stdout, &stderr); err != nil {
				t.Fatalf("detect: %v\n%s", err, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("proposal does not hold %s:\n%s", w, stdout.String())
				}
			}
			for _, n := range c.notes {
				if !strings.Contains(stderr.String(), "note: "+n) {
					t.Errorf("notes do not say %q:\n%s", n, stderr.String())
				}
			}
			if !c.serves {
				return
			}
			m, err := eventstore.ParseMapping(stdout.Bytes())
			if err != nil {
				t.Fatalf("the proposal does not parse: %v", err)
			}
			cat, err := m.Validate(t.Context(), db.Pool)
			if err != nil {
				t.Fatal(err)
			}
			store, err := eventstore.NewMapped(db.Pool, m, cat)
			if err != nil {
				t.Fatal(err)
			}
			events, err := store.ReadStream(t.Context(), eventstore.StreamQuery{StreamID: stream})
			if err != nil || len(events) != 2 || events[1].Version != 2 || events[1].EventType != "Paid" {
				t.Errorf("the proposal reads %+v, %v", events, err)
			}
		})
	}
}

// Without a source, a database holding an events table of another shape is
// refused, and the message says to run detect; its table is left alone.
func TestServeRefusesForeignEventsTableWithoutSource(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	public := strings.NewReplacer("CREATE SCHEMA app;", "", "app.", "public.").Replace(pgtest.Seed000SQL)
	if _, err := db.Pool.Exec(t.Context(), pgtest.DropNativeSQL+public); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--no-live", "--auth=off"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "auditd detect") || !strings.Contains(err.Error(), "aggregate_id") {
		t.Fatalf("serve on a foreign events table: %v", err)
	}
	var auditdSchema bool
	if err := db.Pool.QueryRow(t.Context(), `SELECT to_regnamespace('auditd') IS NOT NULL`).Scan(&auditdSchema); err != nil || auditdSchema {
		t.Errorf("auditd created its schema (%v) on a database it refused", err)
	}
}
