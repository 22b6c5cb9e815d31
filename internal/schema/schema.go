// Package schema applies auditd's embedded migrations and checks that a
// database's schema is one this binary understands.
package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/migrations"
)

// Sets are applied in this order: auditd's own tables reference the events
// table, so the event store comes first.
var Sets = []string{"eventstore", "auditd"}

// Migration is one embedded SQL file.
type Migration struct {
	Set     string
	Version int
	Name    string
	SQL     string
}

// ErrSchemaTooNew is returned when the database has migrations applied that
// this binary does not know: an older auditd must not run against it.
var ErrSchemaTooNew = errors.New("schema: database schema is newer than this auditd binary")

// ErrNotMigrated is returned by Check when migrations are pending.
var ErrNotMigrated = errors.New("schema: migrations are pending")

// advisoryLockKey serialises concurrent `auditd migrate` runs on one database.
const advisoryLockKey = 0x61756469 // "audi"

// All returns every embedded migration, set by set, in version order.
func All() ([]Migration, error) {
	var all []Migration
	for _, set := range Sets {
		entries, err := fs.ReadDir(migrations.FS, set)
		if err != nil {
			return nil, fmt.Errorf("schema: unable to read migration set %s: %w", set, err)
		}
		var ms []Migration
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".up.sql") {
				continue
			}
			num, rest, ok := strings.Cut(name, "_")
			if !ok {
				return nil, fmt.Errorf("schema: migration %s/%s is not named NNN_name.up.sql", set, name)
			}
			v, err := strconv.Atoi(num)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("schema: migration %s/%s has no valid number", set, name)
			}
			body, err := fs.ReadFile(migrations.FS, path.Join(set, name))
			if err != nil {
				return nil, fmt.Errorf("schema: unable to read migration %s/%s: %w", set, name, err)
			}
			ms = append(ms, Migration{Set: set, Version: v, Name: strings.TrimSuffix(rest, ".up.sql"), SQL: string(body)})
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
		for i := 1; i < len(ms); i++ {
			if ms[i].Version == ms[i-1].Version {
				return nil, fmt.Errorf("schema: migrations %s/%03d are numbered twice", set, ms[i].Version)
			}
		}
		all = append(all, ms...)
	}
	return all, nil
}

const bootstrapSQL = `
CREATE SCHEMA IF NOT EXISTS auditd;
CREATE TABLE IF NOT EXISTS auditd.schema_migrations (
    set        text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (set, version)
);`

// Migrate applies every pending migration, each in its own transaction, and
// records it in auditd.schema_migrations. Running it again applies nothing.
// It refuses to touch a database whose schema is newer than this binary.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	return migrate(ctx, pool, func(Migration) bool { return true })
}

// MigrateOwn applies only the migrations that create nothing outside the
// auditd schema: the ones a database whose event table belongs to an
// application (a mapped source) may get: the event store's set is left
// pending.
func MigrateOwn(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	return migrate(ctx, pool, OwnSchemaOnly)
}

// OwnSchemaOnly reports whether m touches only auditd's own schema.
func OwnSchemaOnly(m Migration) bool {
	// The auditd set creates nothing outside its schema (011 drops the
	// counting trigger early releases attached to public.events, if any).
	return m.Set == "auditd"
}

func migrate(ctx context.Context, pool *pgxpool.Pool, keep func(Migration) bool) (applied int, err error) {
	all, err := All()
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema: unable to acquire connection: %w", err)
	}
	defer conn.Release()

	// A session lock, so that two auditd processes starting at once do not
	// both apply the same migration.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, advisoryLockKey); err != nil {
		return 0, fmt.Errorf("schema: unable to take migration lock: %w", err)
	}
	defer func() {
		// Unlock with a fresh context: the caller's may be cancelled.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, advisoryLockKey)
	}()

	if _, err := conn.Exec(ctx, bootstrapSQL); err != nil {
		return 0, fmt.Errorf("schema: unable to create migrations table: %w", err)
	}
	done, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return 0, err
	}
	if err := checkNotNewer(all, done); err != nil {
		return 0, err
	}
	for _, m := range all {
		if done[m.Set][m.Version] || !keep(m) {
			continue
		}
		if err := apply(ctx, conn.Conn(), m); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

func apply(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("schema: unable to begin migration %s/%03d: %w", m.Set, m.Version, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Simple protocol: a migration file holds several statements.
	if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("schema: migration %s/%03d_%s failed: %w", m.Set, m.Version, m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO auditd.schema_migrations (set, version, name) VALUES ($1, $2, $3)`, m.Set, m.Version, m.Name); err != nil {
		return fmt.Errorf("schema: unable to record migration %s/%03d: %w", m.Set, m.Version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("schema: unable to commit migration %s/%03d: %w", m.Set, m.Version, err)
	}
	return nil
}

// appliedVersions reads which migrations the database has recorded.
func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[string]map[int]bool, error) {
	rows, err := conn.Query(ctx, `SELECT set, version FROM auditd.schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("schema: unable to read applied migrations: %w", err)
	}
	done := map[string]map[int]bool{}
	for rows.Next() {
		var set string
		var v int
		if err := rows.Scan(&set, &v); err != nil {
			return nil, fmt.Errorf("schema: unable to read applied migrations: %w", err)
		}
		if done[set] == nil {
			done[set] = map[int]bool{}
		}
		done[set][v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: unable to read applied migrations: %w", err)
	}
	return done, nil
}

func checkNotNewer(all []Migration, done map[string]map[int]bool) error {
	known := map[string]map[int]bool{}
	for _, m := range all {
		if known[m.Set] == nil {
			known[m.Set] = map[int]bool{}
		}
		known[m.Set][m.Version] = true
	}
	for set, versions := range done {
		for v := range versions {
			if !known[set][v] {
				return fmt.Errorf("%w: it has migration %s/%03d, which this binary does not know; upgrade auditd", ErrSchemaTooNew, set, v)
			}
		}
	}
	return nil
}

// Status is what Check reports for /readyz and `auditd migrate --status`.
type Status struct {
	Applied int `json:"applied"`
	Pending int `json:"pending"`
}

// Check reports applied and pending migrations without changing anything. It
// returns ErrSchemaTooNew or ErrNotMigrated when the database cannot be used
// as it is.
func Check(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	return check(ctx, pool, func(Migration) bool { return true })
}

// CheckOwn is Check over the migrations MigrateOwn applies: the readiness of
// a database whose event table is an application's.
func CheckOwn(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	return check(ctx, pool, OwnSchemaOnly)
}

func check(ctx context.Context, pool *pgxpool.Pool, keep func(Migration) bool) (Status, error) {
	every, err := All()
	if err != nil {
		return Status{}, err
	}
	var all []Migration
	for _, m := range every {
		if keep(m) {
			all = append(all, m)
		}
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('auditd.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return Status{}, fmt.Errorf("schema: unable to check migrations table: %w", err)
	}
	if !exists {
		return Status{Pending: len(all)}, ErrNotMigrated
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("schema: unable to acquire connection: %w", err)
	}
	defer conn.Release()
	done, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return Status{}, err
	}
	if err := checkNotNewer(every, done); err != nil {
		return Status{}, err
	}
	var st Status
	for _, m := range all {
		if done[m.Set][m.Version] {
			st.Applied++
		} else {
			st.Pending++
		}
	}
	if st.Pending > 0 {
		return st, ErrNotMigrated
	}
	return st, nil
}
