package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// setupSourceBundle serves sql's table through mapping with the setup page
// on, and no consumer: the publication is what a DBA has not run yet.
func setupSourceBundle(t *testing.T, sql, mapping string) *bundle {
	t.Helper()
	return setup(t, func(d *Deps) {
		ctx := context.Background()
		if _, err := d.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		m, err := eventstore.ParseMapping([]byte(mapping))
		if err != nil {
			t.Fatal(err)
		}
		var src *eventstore.LiveSource
		if d.Store, src, err = eventstore.OpenMapped(ctx, d.Pool, m); err != nil {
			t.Fatal(err)
		}
		d.MappedSource = true
		d.SourceSetup = &SourceSetup{Mapping: m, Live: src, Publication: "auditd_events", Slot: "auditd_setup_page"}
	})
}

// The setup page gives a DBA the exact statements: the publication (for
// inserts and truncates only on a table without a primary key, so that the
// application's UPDATEs never fail), and the indexes seed 000 lacks, with
// what each speeds up. The slot is said not to exist yet.
func TestSetupSourcePageGivesTheStatements(t *testing.T) {
	t.Parallel()
	b := setupSourceBundle(t, pgtest.Seed000SQL, pgtest.Seed000Mapping)
	doc := b.page("/setup/source", http.StatusOK)
	if got := doc.Find(`[data-testid="publication-statement"]`).Text(); got != `CREATE PUBLICATION "auditd_events" FOR TABLE app.events;` {
		t.Errorf("publication statement %q", got)
	}
	if got := doc.Find(`[data-testid="publication-status"]`).Text(); got != "missing" {
		t.Errorf("publication status %q", got)
	}
	if got := doc.Find(`[data-testid="slot-status"]`).Text(); got != "not created yet" {
		t.Errorf("slot status %q", got)
	}
	rows := doc.Find(`[data-testid="setup-index"]`)
	if rows.Length() != 2 {
		t.Fatalf("index rows: %d %q", rows.Length(), rows.Text())
	}
	first := rows.First()
	if first.Find(`[data-testid="index-statement"]`).Text() != "CREATE INDEX CONCURRENTLY ON app.events (aggregate_id, version);" ||
		!strings.Contains(first.Text(), "timeline") {
		t.Errorf("first index row %q", first.Text())
	}

	// Without a primary key: inserts and truncates only.
	b = setupSourceBundle(t, strings.Replace(pgtest.Seed000SQL, "BIGSERIAL PRIMARY KEY", "BIGSERIAL NOT NULL", 1), pgtest.Seed000Mapping)
	var su setupSourceResult
	b.getJSONInto("/setup/source", &su)
	if len(su.Publications) != 1 || !su.Publications[0].InsertsOnly ||
		su.Publications[0].Statement != `CREATE PUBLICATION "auditd_events_inserts" FOR TABLE app.events WITH (publish = 'insert, truncate');` {
		t.Fatalf("publications %+v", su.Publications)
	}
	// Its position has no index either now.
	if len(su.Indexes) != 3 {
		t.Errorf("indexes %+v, want the stream, position and type indexes", su.Indexes)
	}
}

// On auditd's own table there is nothing to set up.
func TestSetupSourcePageOnTheNativeTable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if doc := b.page("/setup/source", http.StatusOK); doc.Find(`[data-testid="setup-native"]`).Length() != 1 {
		t.Fatal("no native notice")
	}
}
