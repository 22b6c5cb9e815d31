package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/pgtest"
)

var mappedSlotSeq atomic.Int64

// mappedSlot is a slot name of its own (slots are per cluster), dropped
// when the test ends, after the serve that uses it stopped.
func mappedSlot(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	slot := fmt.Sprintf("cmd_mapped_%d", mappedSlotSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			// The slot frees a moment after the walsender notices the end.
			if _, err := db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, slot); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return slot
}

// appSchema lists everything schema app holds: relations (tables,
// indexes, sequences), columns, constraints, triggers, functions.
func appSchema(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	var out string
	if err := db.Pool.QueryRow(t.Context(), `
		SELECT string_agg(o, E'\n' ORDER BY o) FROM (
			SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) AS o
			  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'
			UNION ALL
			SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
			  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'
			UNION ALL
			SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
			  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			  WHERE n.nspname = 'app' AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'app'::regnamespace
			UNION ALL
			SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'
			UNION ALL
			SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'app'::regnamespace
		) objects`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitSSE reads the feed at url until a data line contains want.
func waitSSE(t *testing.T, url, want string, trigger func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ":") && strings.Contains(line, "subscribed") && trigger != nil {
			trigger()
			trigger = nil
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("the feed ended without %q: %v", want, sc.Err())
}

type setupJSON struct {
	Publications []struct {
		Exists    bool   `json:"exists"`
		Statement string `json:"statement"`
	} `json:"publications"`
	Slot struct {
		Exists bool `json:"exists"`
		Active bool `json:"active"`
	} `json:"slot"`
}

type verifyJSON struct {
	Status  string `json:"status"`
	Checked int    `json:"checked"`
}

// serve with live on a mapped table it owns: it creates the publication
// (outside any schema) and nothing in the application's schema, the live
// feed carries the application's inserts, and the application's writes
// still succeed.
func TestServeLiveOnMappedTableCreatesNothingInTheirSchema(t *testing.T) {
	t.Parallel()
	db := seed000DB(t)
	before := appSchema(t, db)
	url := startCommand(t, "serve", "--database-url", db.ConnString, "--config", writeConfig(t, pgtest.Seed000Mapping),
		"--listen", "127.0.0.1:0", "--auth=off", "--slot", mappedSlot(t, db))
	waitSSE(t, url+"live/events?format=json", `"MoneyWithdrawn"`, func() {
		if _, err := db.Pool.Exec(context.Background(), `INSERT INTO app.events (aggregate_id, event_type, payload, version)
			VALUES ('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'MoneyWithdrawn', '{}', 3)`); err != nil {
			t.Error(err)
		}
	})
	var su setupJSON
	getJSON(t, url+"setup/source", &su)
	if len(su.Publications) != 1 || !su.Publications[0].Exists || su.Publications[0].Statement != "" || !su.Slot.Active {
		t.Errorf("setup %+v", su)
	}
	if after := appSchema(t, db); after != before {
		t.Errorf("schema app changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := db.Pool.Exec(t.Context(), `
		UPDATE app.events SET payload = '{"balance":20}' WHERE version = 3;
		INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'MoneyDeposited', '{}', 4);`); err != nil {
		t.Errorf("the application's writes fail after auditd ran: %v", err)
	}
}

// auditd on the application's database with a role that has only SELECT
// on the table and REPLICATION, its own schema in another database: every
// page works, the setup page gives the CREATE PUBLICATION a DBA runs, and
// once it ran live works; the role created nothing in the application's
// database.
func TestServeReadOnlyRoleWithStateDatabase(t *testing.T) {
	t.Parallel()
	db := seed000DB(t)
	state := pgtest.NewDB(t)
	role, conn := db.Role(t, "REPLICATION", `GRANT USAGE ON SCHEMA app TO %s; GRANT SELECT ON app.events TO %s`)
	before := appSchema(t, db)
	file := writeConfig(t, pgtest.Seed000Mapping)
	slot := mappedSlot(t, db)
	args := []string{"serve", "--database-url", conn, "--state-database-url", state.ConnString, "--config", file,
		"--listen", "127.0.0.1:0", "--auth=off", "--slot", slot}
	url := startCommand(t, args...)
	var timeline struct {
		Stream struct {
			Version int `json:"version"`
		} `json:"stream"`
	}
	getJSON(t, url+"streams/7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10", &timeline)
	if timeline.Stream.Version != 2 {
		t.Fatalf("timeline %+v", timeline)
	}
	// The counter's tables are in the state database: the overview's
	// counts are one aggregate over the table.
	var overview struct {
		Events  int64 `json:"events"`
		Streams int64 `json:"streams"`
	}
	getJSON(t, url, &overview)
	if overview.Events != 2 || overview.Streams != 1 {
		t.Fatalf("overview counts %+v, want 2 events in 1 stream", overview)
	}
	var su setupJSON
	getJSON(t, url+"setup/source", &su)
	const stmt = `CREATE PUBLICATION "auditd_events" FOR TABLE app.events;`
	if len(su.Publications) != 1 || su.Publications[0].Exists || su.Publications[0].Statement != stmt || su.Slot.Exists {
		t.Fatalf("setup %+v, want the statement %s", su, stmt)
	}

	// The DBA runs it; auditd started again streams.
	if _, err := db.Pool.Exec(t.Context(), stmt); err != nil {
		t.Fatal(err)
	}
	url = startCommand(t, args...)
	waitSSE(t, url+"live/events?format=json", `"MoneyWithdrawn"`, func() {
		if _, err := db.Pool.Exec(context.Background(), `INSERT INTO app.events (aggregate_id, event_type, payload, version)
			VALUES ('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'MoneyWithdrawn', '{}', 3)`); err != nil {
			t.Error(err)
		}
	})
	// The ledger, in the state database, witnessed the back-filled events
	// and the live one.
	var v verifyJSON
	pgtest.WaitFor(t, "the ledger to hold the live event", 20*time.Second, func(context.Context) (bool, error) {
		getJSON(t, url+"streams/7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10/verify", &v)
		return v.Checked == 3, nil
	})
	if v.Status != "intact" {
		t.Fatalf("verify %+v", v)
	}
	var n int
	if err := state.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.ledger`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("state database ledger entries: %d, %v", n, err)
	}
	if after := appSchema(t, db); after != before {
		t.Errorf("schema app changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var owned int
	if err := db.Pool.QueryRow(t.Context(), `
		SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
		     + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
		FROM pg_roles r WHERE rolname = $1`, role).Scan(&owned); err != nil || owned != 0 {
		t.Errorf("the read-only role owns %d objects in the application's database (%v)", owned, err)
	}
	if _, err := db.Pool.Exec(t.Context(), `UPDATE app.events SET payload = '{"balance":1}' WHERE version = 3`); err != nil {
		t.Errorf("the application's UPDATE fails: %v", err)
	}
}
