package live

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/pgtest"
)

// startLedger starts a ledger writer on pool, stopped when the test ends.
func startLedger(t *testing.T, pool *pgxpool.Pool) *ledger.Writer {
	t.Helper()
	w := ledger.NewWriter(ledger.WriterConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, ledger.NewStore(pool))
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// startWitness starts a consumer that writes the ledger.
func startWitness(t *testing.T, db *pgtest.DB, slot string, hub *Hub, w *ledger.Writer, status time.Duration) *Consumer {
	t.Helper()
	c := NewConsumer(ConsumerConfig{
		ConnString: db.ConnString, Slot: slot, Ledger: w,
		StatusInterval: status, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}, db.Pool, hub, NewAlerts(db.Pool))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The slot frees a moment after the walsender notices the end.
		for ctx.Err() == nil {
			if _, err := db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return c
}

// confirmedFlush is the slot's confirmed_flush_lsn.
func confirmedFlush(ctx context.Context, pool *pgxpool.Pool, slot string) (uint64, error) {
	var lsn pglogrepl.LSN
	err := pool.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lsn)
	return uint64(lsn), err
}

func currentWAL(t *testing.T, pool *pgxpool.Pool) uint64 {
	t.Helper()
	var lsn pglogrepl.LSN
	if err := pool.QueryRow(t.Context(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return uint64(lsn)
}

// witnessBundle is a consumer writing a ledger, and a subscriber of its hub.
type witnessBundle struct {
	db   *pgtest.DB
	hub  *Hub
	slot string
	w    *ledger.Writer
	c    *Consumer
	sub  *Subscription
}

func setupWitness(t *testing.T) *witnessBundle {
	t.Helper()
	b := &witnessBundle{db: pgtest.NewDB(t), hub: NewHub(HubConfig{}), slot: testSlot()}
	b.w = startLedger(t, b.db.Pool)
	b.c = startWitness(t, b.db, b.slot, b.hub, b.w, 50*time.Millisecond)
	b.sub, _ = b.hub.Subscribe(Filter{}, nil)
	return b
}

// insert inserts one event and waits for the hub to publish it.
func (b *witnessBundle) insert(t *testing.T) *Message {
	t.Helper()
	pos := insertEvent(t, b.db.Pool, "w", 1, "Opened")
	m := nextEvent(t, b.sub)
	if m.Event.Position != pos {
		t.Fatalf("got %d, want %d", m.Event.Position, pos)
	}
	return m
}

// TestSlotFollowsTheWALWhileOnlyOtherTablesAreWritten: with a ledger, the
// slot no longer waits for the resume window to age: once the event is in
// the ledger, writes to other tables move confirmed_flush_lsn along.
func TestSlotFollowsTheWALWhileOnlyOtherTablesAreWritten(t *testing.T) {
	t.Parallel()
	b := setupWitness(t)
	db, hub, slot, w, ctx := b.db, b.hub, b.slot, b.w, t.Context()
	m := b.insert(t)
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE other (n int)`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO other SELECT generate_series(1, 100)`); err != nil {
			t.Fatal(err)
		}
		target := currentWAL(t, db.Pool)
		pgtest.WaitFor(t, fmt.Sprintf("confirmed_flush_lsn to reach %s (round %d)", pglogrepl.LSN(target), round), 20*time.Second, func(ctx context.Context) (bool, error) {
			lsn, err := confirmedFlush(ctx, db.Pool, slot)
			return lsn >= target, err
		})
	}
	// The event is still resumable from the hub: nothing was lost by
	// confirming past it.
	if got := hub.Stats().Window; got != 1 {
		t.Fatalf("hub window = %d, want the event still there", got)
	}
	if w.Durable() != m.Cursor.LSN {
		t.Fatalf("ledger head %X, want the event's commit %X", w.Durable(), m.Cursor.LSN)
	}
}

// TestSlotWaitsForTheLedger: while the ledger cannot be written, events
// still reach the hub at once, but the slot is not confirmed past them;
// when the ledger is writable again, nothing is lost.
func TestSlotWaitsForTheLedger(t *testing.T) {
	t.Parallel()
	b := setupWitness(t)
	db, slot, w, c, ctx := b.db, b.slot, b.w, b.c, t.Context()
	// A failing ledger, as a full disk or revoked rights would make it.
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE auditd.ledger ADD CONSTRAINT ledger_test_refuses CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	m := b.insert(t)
	pgtest.WaitFor(t, "the ledger write to fail", 20*time.Second, func(context.Context) (bool, error) { return w.Stats().LastError != "", nil })
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE other (n int); INSERT INTO other VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	target := currentWAL(t, db.Pool)
	pgtest.WaitFor(t, "the consumer to process past the event", 20*time.Second, func(context.Context) (bool, error) {
		lsn, err := pglogrepl.ParseLSN(c.Stats().LastLSN)
		return uint64(lsn) >= target, err
	})
	sent := c.Stats().StatusUpdates
	pgtest.WaitFor(t, "two more status updates", 20*time.Second, func(context.Context) (bool, error) { return c.Stats().StatusUpdates >= sent+2, nil })
	lsn, err := confirmedFlush(ctx, db.Pool, slot)
	if err != nil {
		t.Fatal(err)
	}
	if lsn > m.Cursor.LSN {
		t.Fatalf("confirmed_flush_lsn %s is past the unwritten transaction's commit %s", pglogrepl.LSN(lsn), pglogrepl.LSN(m.Cursor.LSN))
	}

	if _, err := db.Pool.Exec(ctx, `ALTER TABLE auditd.ledger DROP CONSTRAINT ledger_test_refuses`); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "confirmed_flush_lsn to pass the event", 20*time.Second, func(ctx context.Context) (bool, error) {
		lsn, err := confirmedFlush(ctx, db.Pool, slot)
		return lsn >= target, err
	})
	if w.Durable() != m.Cursor.LSN || w.Stats().LastError != "" {
		t.Fatalf("ledger %+v, want the event's commit %s", w.Stats(), pglogrepl.LSN(m.Cursor.LSN))
	}
}

// killChildEnv names the database (and killSlotEnv the slot) a child
// process streams into the ledger until it is killed.
const (
	killChildEnv = "AUDITD_TEST_LEDGER_KILL_CHILD"
	killSlotEnv  = "AUDITD_TEST_LEDGER_KILL_SLOT"
)

// TestLedgerKillChild is the process TestLedgerSurvivesKill kills: a
// consumer and ledger writer that never confirm the slot on their own.
func TestLedgerKillChild(t *testing.T) {
	url, slot := os.Getenv(killChildEnv), os.Getenv(killSlotEnv)
	if url == "" {
		t.Skip("only run as TestLedgerSurvivesKill's child")
	}
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	w := ledger.NewWriter(ledger.WriterConfig{Logger: logger}, ledger.NewStore(pool))
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := NewConsumer(ConsumerConfig{ConnString: url, Slot: slot, Ledger: w, StatusInterval: time.Hour, Logger: logger}, pool, NewHub(HubConfig{}), NewAlerts(pool))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-t.Context().Done() // until killed
}

// TestLedgerSurvivesKill kills (SIGKILL) a process that wrote ledger
// entries but never confirmed them to the slot; the next consumer gets
// them again from the slot and the ledger holds every transaction once,
// chained without a gap, with the hashes verification recomputes from the
// table.
func TestLedgerSurvivesKill(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	slot := testSlot()
	store := ledger.NewStore(db.Pool)
	events := eventstore.New(db.Pool)

	// The slot exists before the first event, as when auditd started first.
	c0 := NewConsumer(ConsumerConfig{ConnString: db.ConnString, Slot: slot}, db.Pool, NewHub(HubConfig{}), nil)
	if _, err := c0.ensureSlot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c0.ensurePublication(ctx); err != nil {
		t.Fatal(err)
	}
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLedgerKillChild$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), killChildEnv+"="+db.ConnString, killSlotEnv+"="+slot)
	var childOut strings.Builder
	child.Stdout, child.Stderr = &childOut, &childOut
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child output:\n%s", childOut.String())
		}
	})
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	total := 0
	appendTx := func(stream string, n int) {
		total += n
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			evs[i] = eventstore.NewEvent{EventType: "Deposited", Payload: []byte(`{"amount": 12.50, "note": "naïve \"quote\"\n", "tags": [1, {"b": null}]}`),
				Metadata: []byte(`{"actor": "alice"}`)}
		}
		if _, err := events.Append(ctx, stream, "wallet", eventstore.AnyVersion, evs...); err != nil {
			t.Fatal(err)
		}
	}
	countEvents := func(ctx context.Context) (int, error) {
		entries, err := store.Entries(ctx, 0, 100000)
		n := 0
		for _, e := range entries {
			n += len(e.Events)
		}
		return n, err
	}
	for i := range 20 {
		appendTx(fmt.Sprintf("wallet-%d", i%3), 1+i%3)
	}
	pgtest.WaitFor(t, "the child to write the ledger", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := countEvents(ctx)
		return n == total, err
	})
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	// Killed between writing the ledger and confirming: the slot still
	// holds every transaction the ledger got.
	first, err := store.Entries(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if lsn, err := confirmedFlush(ctx, db.Pool, slot); err != nil || lsn > first[0].CommitLSN {
		t.Fatalf("confirmed_flush_lsn %s (%v) is past the first entry %s", pglogrepl.LSN(lsn), err, pglogrepl.LSN(first[0].CommitLSN))
	}

	// Restart: the slot re-sends the 20 transactions; more follow.
	hub := NewHub(HubConfig{})
	w := startLedger(t, db.Pool)
	startWitness(t, db, slot, hub, w, 50*time.Millisecond)
	for i := range 5 {
		appendTx("wallet-after", 1+i)
	}
	pgtest.WaitFor(t, "the restarted consumer to write the ledger", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := countEvents(ctx)
		return n >= total, err
	})
	if n, err := store.VerifyChain(ctx); err != nil || n != 25 {
		t.Fatalf("VerifyChain = %d entries, %v; want 25", n, err)
	}
	entries, err := store.Entries(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]ledger.Hash{}
	for _, e := range entries {
		for _, ev := range e.Events {
			if _, dup := seen[ev.Position]; dup {
				t.Fatalf("position %d is in the ledger twice", ev.Position)
			}
			seen[ev.Position] = ev.Hash
		}
	}
	checked := 0
	if err := events.ScanCanonical(ctx, "", 0, 0, nil, func(e *eventstore.CanonicalEvent) error {
		h, ok := seen[e.Position]
		switch {
		case !ok:
			return fmt.Errorf("position %d is missing from the ledger", e.Position)
		case h != ledger.HashEvent(e):
			return fmt.Errorf("position %d: the hash of the table's text output differs from pgoutput's", e.Position)
		}
		checked++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if checked != total || len(seen) != total {
		t.Fatalf("checked %d of %d events, want %d", checked, len(seen), total)
	}
}

// TestBackfillHandsOverWithoutGapOrOverlap starts a consumer on a store
// that already has events while a writer keeps appending: the events
// before the slot are back-filled (and marked so), the rest witnessed
// live, every event exactly once, the chain intact.
func TestBackfillHandsOverWithoutGapOrOverlap(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	events := eventstore.New(db.Pool)
	store := ledger.NewStore(db.Pool)
	appendOne := func(ctx context.Context, stream string, n int) error {
		evs := make([]eventstore.NewEvent, n)
		for i := range evs {
			evs[i] = eventstore.NewEvent{EventType: "Deposited", Payload: []byte(`{"amount": 1}`)}
		}
		_, err := events.Append(ctx, stream, "wallet", eventstore.AnyVersion, evs...)
		return err
	}
	for i := range 300 {
		if err := appendOne(ctx, fmt.Sprintf("wallet-%d", i%10), 1+i%3); err != nil {
			t.Fatal(err)
		}
	}
	// Appends go on while the slot is created and the back-fill runs.
	wctx, stopWriting := context.WithCancel(ctx)
	writing := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if err := appendOne(wctx, "wallet-busy", 1+i%2); err != nil {
				if wctx.Err() != nil {
					err = nil
				}
				writing <- err
				return
			}
		}
	}()
	w := startLedger(t, db.Pool)
	slot := testSlot()
	bf := ledger.NewBackfill(events, store, w)
	c := NewConsumer(ConsumerConfig{ConnString: db.ConnString, Slot: slot, Ledger: w, Backfill: bf,
		StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond}, db.Pool, NewHub(HubConfig{}), NewAlerts(db.Pool))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		_, _ = db.Pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	})
	pgtest.WaitFor(t, "the back-fill and some live entries", 30*time.Second, func(ctx context.Context) (bool, error) {
		if st := c.Stats(); st.Backfill == nil || !st.Backfill.Done {
			return false, nil
		}
		var live int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM auditd.ledger WHERE NOT backfilled`).Scan(&live)
		return live >= 5, err
	})
	stopWriting()
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	var last int64
	if err := db.Pool.QueryRow(ctx, `SELECT max(position) FROM events`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the ledger to hold the last event", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := store.LastPosition(ctx)
		return n >= last, err
	})
	if n, err := store.VerifyChain(ctx); err != nil {
		t.Fatalf("VerifyChain after %d entries: %v", n, err)
	}
	entries, err := store.Entries(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]ledger.Hash{}
	backfilled, live := 0, 0
	for i, e := range entries {
		if i > 0 && e.Backfilled && !entries[i-1].Backfilled {
			t.Fatalf("entry %d is back-filled after a live one", i)
		}
		for _, ev := range e.Events {
			if _, dup := seen[ev.Position]; dup {
				t.Fatalf("position %d is in the ledger twice", ev.Position)
			}
			seen[ev.Position] = ev.Hash
			if e.Backfilled {
				backfilled++
			} else {
				live++
			}
		}
	}
	if backfilled < 600 || live == 0 {
		t.Fatalf("%d back-filled and %d live events; want at least the 600 from before and some live", backfilled, live)
	}
	if st := c.Stats().Backfill; st.Events != int64(backfilled) || st.Percent != 100 {
		t.Fatalf("back-fill stats %+v, want %d events", st, backfilled)
	}
	n := 0
	if err := events.ScanCanonical(ctx, "", 0, 0, nil, func(e *eventstore.CanonicalEvent) error {
		if h, ok := seen[e.Position]; !ok || h != ledger.HashEvent(e) {
			return fmt.Errorf("position %d: in the ledger %v, hash equal %v", e.Position, ok, h == ledger.HashEvent(e))
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(seen) {
		t.Fatalf("the table has %d events, the ledger %d", n, len(seen))
	}
}

// TestResumeFromTheLedger resumes a cursor 20,000 events old, far past the
// hub's window: every event after it arrives once, in commit order, then
// the live feed continues.
func TestResumeFromTheLedger(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	hub := NewHub(HubConfig{Window: 1000})
	w := startLedger(t, db.Pool)
	startWitness(t, db, testSlot(), hub, w, 50*time.Millisecond)
	events := eventstore.New(db.Pool)
	resume := NewResume(hub, ledger.NewStore(db.Pool), w, events)
	sub, _ := hub.Subscribe(Filter{}, nil)
	first := insertEvent(t, db.Pool, "w", 1, "Opened")
	cursor := nextEvent(t, sub).Cursor
	sub.Close()
	// 20,000 more, in transactions of 1 to 50 events.
	const total = 20000
	for n, v := 0, 2; n < total; {
		k := min(1+n%50, total-n)
		if _, err := db.Pool.Exec(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload)
			SELECT 'w', 'wallet', v, 'Deposited', jsonb_build_object('v', v) FROM generate_series($1::int, $2::int) v`, v, v+k-1); err != nil {
			t.Fatal(err)
		}
		n, v = n+k, v+k
	}
	pgtest.WaitFor(t, "the ledger to hold the 20,000 events", 60*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).LastPosition(ctx)
		return n >= first+total, err
	})
	last := hub.Stats().Last
	if _, err := hub.Subscribe(Filter{}, &cursor); err != ErrResync {
		t.Fatalf("the window still reaches the cursor: %v", err)
	}
	rs, gap, err := resume.Subscribe(ctx, Filter{}, cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []*Message
	if err := gap.Fill(ctx, func(m []*Message) error { got = append(got, m...); return nil }); err != nil {
		t.Fatal(err)
	}
	got = append(got, rs.Backlog...)
	after := insertEvent(t, db.Pool, "w", total+2, "Closed")
	got = append(got, nextEvent(t, rs))
	if len(got) != total+1 {
		t.Fatalf("resumed %d events, want %d", len(got), total+1)
	}
	for i, m := range got {
		want := first + int64(i) + 1
		if i == total {
			want = after
		}
		if m.Event.Position != want || (i > 0 && !got[i-1].Cursor.Less(m.Cursor)) {
			t.Fatalf("resumed #%d: position %d cursor %s, want position %d in commit order", i, m.Event.Position, m.Cursor, want)
		}
	}
	if got[total-1].Cursor.String() != last {
		t.Fatalf("the gap and the window end at %s, the feed did at %s", got[total-1].Cursor, last)
	}
	// A cursor the ledger never had gets ErrUnknownCursor (then resync).
	if _, _, err := resume.Subscribe(ctx, Filter{}, Cursor{LSN: 1, Index: 0}); err != ErrUnknownCursor {
		t.Fatalf("made-up cursor: %v, want ErrUnknownCursor", err)
	}
}
