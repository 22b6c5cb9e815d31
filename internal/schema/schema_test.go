package schema_test

import (
	"errors"
	"testing"

	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/schema"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestAllIsOrderedBySetThenVersion(t *testing.T) {
	t.Parallel()
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 || all[0].Set != "eventstore" || all[0].Version != 1 {
		t.Fatalf("first migration = %+v", all[0])
	}
	seen := map[string]int{}
	for _, m := range all {
		if m.Version <= seen[m.Set] {
			t.Errorf("%s/%03d out of order", m.Set, m.Version)
		}
		seen[m.Set] = m.Version
		if m.SQL == "" || m.Name == "" {
			t.Errorf("%s/%03d has no name or SQL", m.Set, m.Version)
		}
	}
	if seen["auditd"] == 0 {
		t.Error("no auditd-schema migrations")
	}
}

func TestMigrateIsIdempotentAndRecorded(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	// The template is fully migrated: nothing to apply, and Check agrees.
	n, err := schema.Migrate(ctx, db.Pool)
	if err != nil || n != 0 {
		t.Fatalf("Migrate on a migrated database = %d, %v", n, err)
	}
	all, _ := schema.All()
	st, err := schema.Check(ctx, db.Pool)
	if err != nil || st.Applied != len(all) || st.Pending != 0 {
		t.Fatalf("Check = %+v, %v", st, err)
	}
	// Forget the record of the event store migration (it is written with
	// IF NOT EXISTS throughout, so it can run again): it is pending again,
	// and Migrate applies exactly that one.
	if _, err := db.Pool.Exec(ctx, `DELETE FROM auditd.schema_migrations WHERE set = 'eventstore' AND version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Check(ctx, db.Pool); !errors.Is(err, schema.ErrNotMigrated) {
		t.Fatalf("Check with a pending migration = %v", err)
	}
	n, err = schema.Migrate(ctx, db.Pool)
	if err != nil || n != 1 {
		t.Fatalf("re-applying the event store migration = %d, %v", n, err)
	}
	n, err = schema.Migrate(ctx, db.Pool)
	if err != nil || n != 0 {
		t.Fatalf("third Migrate = %d, %v", n, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO auditd.schema_migrations (set, version, name) VALUES ('auditd', 999, 'future')`); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, db.Pool); !errors.Is(err, schema.ErrSchemaTooNew) {
		t.Errorf("Migrate = %v, want ErrSchemaTooNew", err)
	}
	if _, err := schema.Check(ctx, db.Pool); !errors.Is(err, schema.ErrSchemaTooNew) {
		t.Errorf("Check = %v, want ErrSchemaTooNew", err)
	}
}

func TestFreshDatabaseGetsEverything(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	// An empty database in the same cluster: drop everything the template
	// brought and migrate from nothing.
	if _, err := db.Pool.Exec(ctx, `DROP SCHEMA auditd CASCADE; DROP TABLE events, projection_checkpoints CASCADE; DROP FUNCTION events_reject_change()`); err != nil {
		t.Fatal(err)
	}
	all, _ := schema.All()
	n, err := schema.Migrate(ctx, db.Pool)
	if err != nil || n != len(all) {
		t.Fatalf("Migrate from nothing = %d, %v (want %d)", n, err, len(all))
	}
	var exists bool
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('public.events') IS NOT NULL AND to_regclass('auditd.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Fatalf("tables after migrate: %v %v", exists, err)
	}
}
