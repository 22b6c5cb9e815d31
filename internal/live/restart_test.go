package live

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/schema"
)

// TestConsumerReconnectsAfterPostgresRestart restarts a cluster of its own
// (the shared one serves parallel tests) under a running consumer.
func TestConsumerReconnectsAfterPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster := pgembed.New(pgembed.Config{DataDir: t.TempDir(), Fast: true})
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	url := cluster.ConnString("postgres")
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := schema.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}

	hub := NewHub(HubConfig{})
	c := NewConsumer(ConsumerConfig{ConnString: url, StatusInterval: 50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, pool, hub, NewAlerts(pool))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	sub, _ := hub.Subscribe(Filter{}, nil)

	before := insertEvent(t, pool, "w", 1, "Opened")
	if m := nextEvent(t, sub); m.Event.Position != before {
		t.Fatalf("got %d, want %d", m.Event.Position, before)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the consumer to notice the outage", 20*time.Second, func(context.Context) (bool, error) { return !c.Stats().Connected, nil })
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects by itself; the first insert may meet a dead
	// pooled connection.
	var after int64
	pgtest.WaitFor(t, "an insert after the restart", 20*time.Second, func(context.Context) (bool, error) {
		err := pool.QueryRow(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload) VALUES ('w', 'wallet', 2, 'Renamed', '{}') RETURNING position`).Scan(&after)
		return err == nil, nil
	})
	m := nextEvent(t, sub)
	if m.Event.Position != after {
		t.Fatalf("after the restart got position %d, want %d (a re-delivered duplicate?)", m.Event.Position, after)
	}
	st := c.Stats()
	if !st.Connected || st.Reconnects < 1 || st.EventsTotal != 2 {
		t.Fatalf("stats after restart %+v", st)
	}
	if m := pendingMessage(sub); m != nil {
		t.Fatalf("unexpected extra message %+v", m)
	}
}

// TestConsumerReconnectsWhenConnectionDrops kills the walsender mid-stream:
// the consumer reconnects, resumes from the slot and drops what the slot
// re-sends.
func TestConsumerReconnectsWhenConnectionDrops(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	slot := testSlot()
	c := startConsumer(t, db.Pool, db.ConnString, slot, hub)
	sub, _ := hub.Subscribe(Filter{}, nil)
	first := insertEvent(t, db.Pool, "w", 1, "Opened")
	if m := nextEvent(t, sub); m.Event.Position != first {
		t.Fatalf("got %d, want %d", m.Event.Position, first)
	}
	ctx := t.Context()
	var killed bool
	if err := db.Pool.QueryRow(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate walsender: %v, %v", killed, err)
	}
	second := insertEvent(t, db.Pool, "w", 2, "Renamed")
	if m := nextEvent(t, sub); m.Event.Position != second {
		t.Fatalf("after the drop got %d, want %d (a re-delivered duplicate?)", m.Event.Position, second)
	}
	pgtest.WaitFor(t, "the reconnect to be counted", 20*time.Second, func(context.Context) (bool, error) { return c.Stats().Reconnects >= 1 && c.Stats().Connected, nil })
	if m := pendingMessage(sub); m != nil {
		t.Fatalf("unexpected extra message %+v", m)
	}
}
