package web

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestDatabaseUnavailableByClass feeds databaseUnavailable real errors:
// only those that mean the server cannot be reached are an outage.
func TestDatabaseUnavailableByClass(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()

	_, syntax := db.Pool.Exec(ctx, `SELEC 1`)
	_, notFound := eventstore.New(db.Pool).Stream(ctx, "no-such-stream")
	timeoutCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, timeout := db.Pool.Exec(timeoutCtx, `SELECT pg_sleep(10)`)
	_, refused := pgx.Connect(ctx, "postgres://postgres@/x?host=/nonexistent-auditd-dir&port=1")

	// A backend terminated under its connection: 57P01 on the next query.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	_, terminated := conn.Exec(ctx, `SELECT 1`)
	_, closed := conn.Exec(ctx, `SELECT 1`)

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"syntax error", syntax, false},
		{"stream not found", notFound, false},
		{"statement timeout", timeout, false},
		{"connection refused", refused, true},
		{"backend terminated", terminated, true},
		{"connection closed", closed, true},
	} {
		if c.err == nil {
			t.Errorf("%s: no error to classify", c.name)
			continue
		}
		if got := databaseUnavailable(c.err); got != c.want {
			t.Errorf("%s (%v): unavailable = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
