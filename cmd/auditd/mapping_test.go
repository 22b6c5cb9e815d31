package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/pgtest"
)

// writeConfig writes a configuration file for one test.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "auditd.json")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// seed000DB is a test database holding the seed-000 table in schema app,
// with two events of one wallet.
func seed000DB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), pgtest.Seed000SQL+`
		INSERT INTO app.events (aggregate_id, event_type, payload, version, created_at) VALUES
		('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'WalletOpened', '{"owner":"Zoë"}', 1, '2026-03-01 10:00:00+00'),
		('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'MoneyDeposited', '{"balance":20}', 2, '2026-03-01 10:05:00+00');`); err != nil {
		t.Fatal(err)
	}
	return db
}

// appObjects lists what schema app holds: relations, columns, indexes,
// triggers, and the publications its tables are in.
func appObjects(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	var out string
	if err := db.Pool.QueryRow(t.Context(), `
		SELECT string_agg(o, E'\n' ORDER BY o) FROM (
			SELECT 'relation ' || c.relname || ' ' || c.relkind::text AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'
			UNION ALL
			SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
			  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			  WHERE n.nspname = 'app' AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'
			UNION ALL
			SELECT 'publication ' || pubname || ' ' || tablename FROM pg_publication_tables WHERE schemaname = 'app'
		) objects`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// serve with a source reads the application's table and creates nothing in
// its schema; the application's writes still succeed afterwards.
func TestServeOnMappedTableCreatesNothingInTheirSchema(t *testing.T) {
	t.Parallel()
	db := seed000DB(t)
	before := appObjects(t, db)
	if !strings.Contains(before, "relation events r") || !strings.Contains(before, "column events.aggregate_id uuid") {
		t.Fatalf("schema app does not hold the seed table: %s", before)
	}
	file := writeConfig(t, pgtest.Seed000Mapping)
	// Without live: no publication either (mapped_live_test.go runs live).
	url := startCommand(t, "serve", "--database-url", db.ConnString, "--config", file, "--listen", "127.0.0.1:0", "--auth=off", "--no-live")
	var timeline struct {
		Stream struct {
			StreamType string `json:"stream_type"`
			Version    int    `json:"version"`
		} `json:"stream"`
		Events []struct {
			EventType string `json:"event_type"`
		} `json:"events"`
	}
	getJSON(t, url+"streams/7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10", &timeline)
	if timeline.Stream.StreamType != "Wallet" || timeline.Stream.Version != 2 || len(timeline.Events) != 2 {
		t.Errorf("timeline = %+v", timeline)
	}
	var overview struct {
		Events  int64 `json:"events"`
		Streams int64 `json:"streams"`
	}
	getJSON(t, url, &overview)
	if overview.Events != 2 || overview.Streams != 1 {
		t.Errorf("overview counts = %+v, want 2 events in 1 stream", overview)
	}
	var ready struct {
		Status string `json:"status"`
	}
	getJSON(t, url+"readyz", &ready)
	if ready.Status != "ready" {
		t.Errorf("readyz = %+v", ready)
	}
	if after := appObjects(t, db); after != before {
		t.Errorf("schema app changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := db.Pool.Exec(t.Context(), `
		INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'MoneyWithdrawn', '{}', 3);
		UPDATE app.events SET payload = '{"balance":20}' WHERE version = 3;
		DELETE FROM app.events WHERE version = 3;`); err != nil {
		t.Errorf("the application's writes fail after auditd ran: %v", err)
	}
}

// A source naming a missing column stops start-up with the file, the key,
// the table's columns and the nearest match.
func TestServeRefusesBadSource(t *testing.T) {
	t.Parallel()
	db := seed000DB(t)
	file := writeConfig(t, strings.Replace(pgtest.Seed000Mapping, `"stream_id": "aggregate_id"`, `"stream_id": "aggregateId"`, 1))
	err := run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--config", file, "--listen", "127.0.0.1:0", "--no-live"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started with a mapping naming a missing column")
	}
	for _, want := range []string{file, "source.columns.stream_id", "aggregateId", "created_at", `nearest: "aggregate_id"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// --reducers is the older name of --config; two different files are an
// error rather than one silently winning.
func TestConfigAndReducersAlias(t *testing.T) {
	t.Parallel()
	cfg := &config{}
	if err := parse(newFlagSet("serve", cfg, io.Discard), []string{"--reducers", "a.json"}); err != nil || cfg.ConfigFile != "a.json" {
		t.Errorf("--reducers a.json: ConfigFile %q, %v", cfg.ConfigFile, err)
	}
	cfg = &config{}
	if err := parse(newFlagSet("serve", cfg, io.Discard), []string{"--config", "a.json", "--reducers", "b.json"}); err == nil || !strings.Contains(err.Error(), "--reducers") {
		t.Errorf("--config a.json --reducers b.json: %v, want an error", err)
	}
}
