package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/schema"
)

// privateCluster starts a migrated cluster of the test's own, to restart
// (the shared one serves parallel tests).
func privateCluster(t *testing.T) (*pgembed.Cluster, string, *pgxpool.Pool) {
	t.Helper()
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
	return cluster, url, pool
}

// TestConsumerReconnectsAfterPostgresRestart restarts a cluster of its own
// (the shared one serves parallel tests) under a running consumer.
func TestConsumerReconnectsAfterPostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster, url, pool := privateCluster(t)

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
	// The pool reconnects by itself; the first statement may meet a dead
	// pooled connection.
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

// TestResumeAcrossPostgresAndConsumerRestart takes a cursor, shuts
// PostgreSQL down under a consumer writing the ledger (the shutdown asks for
// a final confirmation), restarts it and a new consumer with an empty hub,
// and resumes the cursor: every event after it, once, in commit order.
func TestResumeAcrossPostgresAndConsumerRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster, url, pool := privateCluster(t)
	events := eventstore.New(pool)
	lstore := ledger.NewStore(pool)
	start := func(window int) (*Hub, *ledger.Writer, *Consumer) {
		hub := NewHub(HubConfig{Window: window})
		w := ledger.NewWriter(ledger.WriterConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, lstore)
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		c := NewConsumer(ConsumerConfig{ConnString: url, Ledger: w, Backfill: ledger.NewBackfill(events, lstore, w),
			StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, pool, hub, NewAlerts(pool))
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return hub, w, c
	}
	hub, w, c := start(0)
	sub, _ := hub.Subscribe(Filter{}, nil)
	var want []int64
	for v := 1; v <= 6; v++ {
		want = append(want, insertEvent(t, pool, "w", v, "Deposited"))
	}
	var cursor Cursor
	for i := range want {
		if m := nextEvent(t, sub); i == 1 {
			cursor = m.Cursor
		}
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	w.Stop()
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects by itself; the first statement may meet a dead
	// pooled connection.
	pgtest.WaitFor(t, "an insert after the restart", 20*time.Second, func(context.Context) (bool, error) {
		var pos int64
		err := pool.QueryRow(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload) VALUES ('w', 'wallet', 7, 'Deposited', '{}') RETURNING position`).Scan(&pos)
		if err == nil {
			want = append(want, pos)
		}
		return err == nil, nil
	})
	// A window of 2: whatever the slot re-sends, the cursor is older.
	hub, w, c = start(2)
	t.Cleanup(func() { c.Stop(); w.Stop() })
	pgtest.WaitFor(t, "the ledger to hold it", 20*time.Second, func(ctx context.Context) (bool, error) {
		n, err := lstore.LastPosition(ctx)
		return n >= want[len(want)-1], err
	})
	if _, err := hub.Subscribe(Filter{}, &cursor); err != ErrResync {
		t.Fatalf("a 2-event window resumed a cursor 5 events old: %v", err)
	}
	rs, gap, err := NewResume(hub, lstore, w, events).Subscribe(ctx, Filter{}, cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []int64
	if err := gap.Fill(ctx, func(ms []*Message) error {
		for _, m := range ms {
			got = append(got, m.Event.Position)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range rs.Backlog {
		got = append(got, m.Event.Position)
	}
	if fmt.Sprint(got) != fmt.Sprint(want[2:]) {
		t.Fatalf("resumed %v, want %v", got, want[2:])
	}
	if n, err := lstore.VerifyChain(ctx); err != nil || n != len(want) {
		t.Fatalf("VerifyChain = %d, %v; want %d entries", n, err, len(want))
	}
}
