package live

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var slotSeq atomic.Int64

// testSlot is a slot name unique in the shared cluster.
func testSlot() string { return fmt.Sprintf("live_test_%d", slotSeq.Add(1)) }

// startConsumer starts a consumer with fast timers on connString's database
// and stops it (and drops its slot, slots being a cluster-wide resource)
// when the test ends.
func startConsumer(t *testing.T, pool *pgxpool.Pool, connString, slot string, hub *Hub, with ...func(*ConsumerConfig)) *Consumer {
	t.Helper()
	cfg := ConsumerConfig{
		ConnString: connString, Slot: slot, Publication: "auditd_events",
		StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	for _, f := range with {
		f(&cfg)
	}
	c := NewConsumer(cfg, pool, hub, NewAlerts(pool))
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("start consumer: %v", err)
	}
	t.Cleanup(func() {
		c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot)
	})
	return c
}

// queued holds what Take returned and the tests have not looked at yet.
var queued = map[*Subscription][]*Message{}

// next waits for the next message of a subscription (one test goroutine
// per subscription).
func next(t *testing.T, s *Subscription) *Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(queuedFor(s)) == 0 {
		select {
		case <-s.Wake():
			setQueued(s, s.Take(queuedFor(s)))
		case <-s.Done():
			t.Fatalf("subscription ended (reason %d)", s.Reason())
		case <-deadline:
			t.Fatal("no message within 10 s")
		}
	}
	q := queuedFor(s)
	setQueued(s, q[1:])
	return q[0]
}

// pendingMessage reports whether a message is waiting, without blocking.
func pendingMessage(s *Subscription) *Message {
	select {
	case <-s.Wake():
		setQueued(s, s.Take(queuedFor(s)))
	default:
	}
	if q := queuedFor(s); len(q) > 0 {
		return q[0]
	}
	return nil
}

var queuedMu sync.Mutex

func queuedFor(s *Subscription) []*Message {
	queuedMu.Lock()
	defer queuedMu.Unlock()
	return queued[s]
}

func setQueued(s *Subscription, q []*Message) {
	queuedMu.Lock()
	defer queuedMu.Unlock()
	queued[s] = q
}

// nextEvent skips lag and alert messages.
func nextEvent(t *testing.T, s *Subscription) *Message {
	t.Helper()
	for {
		if m := next(t, s); m.Kind == KindEvent {
			return m
		}
	}
}

func insertEvent(t *testing.T, pool *pgxpool.Pool, stream string, version int, typ string) int64 {
	t.Helper()
	var pos int64
	err := pool.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
		VALUES ($1, 'wallet', $2, $3, '{"amount": 5, "note": "a\nb"}', '{"actor": "alice"}') RETURNING position`,
		stream, version, typ).Scan(&pos)
	if err != nil {
		t.Fatalf("insert event: %v", err)
	}
	return pos
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{LSN: 0x16B3748, Index: 7}
	got, err := ParseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("ParseCursor(%q) = %v, %v", c.String(), got, err)
	}
	if !(Cursor{LSN: 1, Index: 9}).Less(Cursor{LSN: 2}) || (Cursor{LSN: 2}).Less(Cursor{LSN: 1, Index: 9}) {
		t.Fatal("cursors must order by LSN first")
	}
	for _, bad := range []string{"", "12", "zz-1", "0000000000000001-x", "1-1", "0000000000000001-99999999999"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func hubEvents(n int, stream string) []eventstore.Event {
	out := make([]eventstore.Event, n)
	for i := range out {
		out[i] = eventstore.Event{Position: int64(i + 1), StreamID: stream, StreamType: "wallet", EventType: "T"}
	}
	return out
}

func TestHubResumeWindowAndResync(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{Window: 4, Buffer: 16})
	h.SetStart(100)
	if _, err := h.Subscribe(Filter{}, &Cursor{LSN: 50}); err != ErrResync {
		t.Fatalf("cursor before the start: err %v, want ErrResync", err)
	}
	h.PublishTx(100, hubEvents(2, "a")) // (100,0) (100,1)
	h.PublishTx(200, hubEvents(2, "b")) // (200,0) (200,1)
	// Re-delivery of a transaction already published is dropped.
	if n := h.PublishTx(100, hubEvents(2, "a")); n != 0 {
		t.Fatalf("re-delivered transaction published %d events", n)
	}
	s, err := h.Subscribe(Filter{}, &Cursor{LSN: 100, Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Backlog) != 3 || s.Backlog[0].Cursor != (Cursor{100, 1}) || s.Backlog[2].Cursor != (Cursor{200, 1}) {
		t.Fatalf("backlog = %v", s.Backlog)
	}
	filtered, err := h.Subscribe(Filter{StreamID: "b"}, &Cursor{LSN: 100, Index: 0})
	if err != nil || len(filtered.Backlog) != 2 {
		t.Fatalf("filtered backlog %d, %v", len(filtered.Backlog), err)
	}
	h.PublishTx(300, hubEvents(1, "a")) // evicts (100,0)
	if m := next(t, s); m.Cursor != (Cursor{300, 0}) {
		t.Fatalf("live message %v", m.Cursor)
	}
	if _, err := h.Subscribe(Filter{}, &Cursor{LSN: 99}); err != ErrResync {
		t.Fatalf("evicted cursor: err %v, want ErrResync", err)
	}
	if _, err := h.Subscribe(Filter{}, &Cursor{LSN: 100, Index: 0}); err != nil {
		t.Fatalf("cursor at the evicted event must still resume: %v", err)
	}
	if got := h.RetainFrom(); got != 100 {
		t.Fatalf("RetainFrom = %d, want 100", got)
	}
}

func TestHubCutsOffSlowSubscriber(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{Buffer: 2, Window: 100})
	slow, _ := h.Subscribe(Filter{}, nil)
	fast, _ := h.Subscribe(Filter{}, nil)
	for i := range 5 {
		h.PublishTx(uint64(10+i), hubEvents(1, "s"))
		if m := next(t, fast); m.Cursor.LSN != uint64(10+i) {
			t.Fatalf("fast got %v", m.Cursor)
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber was not cut off")
	}
	if slow.Reason() != ReasonSlow || h.Stats().CutOff != 1 || h.Stats().Subscribers != 1 {
		t.Fatalf("reason %d, stats %+v", slow.Reason(), h.Stats())
	}
}

func TestConsumerDeliversCommittedEvents(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	c := startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	sub, err := hub.Subscribe(Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pos := insertEvent(t, db.Pool, "wallet-1", 1, "Opened")
	m := nextEvent(t, sub)
	e := m.Event
	if e.Position != pos || e.StreamID != "wallet-1" || e.StreamType != "wallet" || e.Version != 1 || e.EventType != "Opened" ||
		e.SchemaVersion != 1 || len(e.EventID) != 36 || e.RecordedAt.IsZero() || e.Actor() != "alice" {
		t.Fatalf("decoded event %+v", e)
	}
	var stored time.Time
	if err := db.Pool.QueryRow(t.Context(), `SELECT recorded_at FROM events WHERE position = $1`, pos).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !stored.Equal(e.RecordedAt) {
		t.Fatalf("recorded_at %v, stored %v", e.RecordedAt, stored)
	}
	if string(e.Payload) != `{"note": "a\nb", "amount": 5}` {
		t.Fatalf("payload %s", e.Payload)
	}
	st := c.Stats()
	if !st.Connected || st.EventsTotal != 1 || st.LastLSN == "0/0" {
		t.Fatalf("stats %+v", st)
	}
}

func TestConsumerOrderUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{Buffer: 10000})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	sub, _ := hub.Subscribe(Filter{}, nil)
	store := eventstore.New(db.Pool)
	const writers, perWriter = 6, 40
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range perWriter {
				// Two events per transaction, each writer on its own stream.
				_, err := store.Append(context.Background(), fmt.Sprintf("w-%d", w), "wallet", i*2,
					eventstore.NewEvent{EventType: "A", Payload: []byte(`{}`)}, eventstore.NewEvent{EventType: "B", Payload: []byte(`{}`)})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	lastVersion := map[string]int{}
	var last Cursor
	for range writers * perWriter * 2 {
		m := nextEvent(t, sub)
		if !last.Less(m.Cursor) {
			t.Fatalf("cursor %v after %v: not increasing", m.Cursor, last)
		}
		last = m.Cursor
		if seen[m.Event.Position] {
			t.Fatalf("position %d delivered twice", m.Event.Position)
		}
		seen[m.Event.Position] = true
		if m.Event.Version != lastVersion[m.Event.StreamID]+1 {
			t.Fatalf("stream %s: version %d after %d", m.Event.StreamID, m.Event.Version, lastVersion[m.Event.StreamID])
		}
		lastVersion[m.Event.StreamID] = m.Event.Version
	}
	if len(seen) != writers*perWriter*2 {
		t.Fatalf("saw %d events", len(seen))
	}
}

func TestConsumerOutOfOrderCommits(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	sub, _ := hub.Subscribe(Filter{}, nil)
	ctx := t.Context()
	// A takes the earlier position but commits after B.
	txA, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(ctx)
	var posA, posB int64
	if err := txA.QueryRow(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload) VALUES ('a', 'x', 1, 'A', '{}') RETURNING position`).Scan(&posA); err != nil {
		t.Fatal(err)
	}
	posB = insertEvent(t, db.Pool, "b", 1, "B")
	if posB <= posA {
		t.Fatalf("positions %d, %d", posA, posB)
	}
	mB := nextEvent(t, sub)
	if mB.Event.Position != posB {
		t.Fatalf("first delivered %d, want B %d", mB.Event.Position, posB)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mA := nextEvent(t, sub)
	if mA.Event.Position != posA || !mB.Cursor.Less(mA.Cursor) {
		t.Fatalf("then %d at %v (B at %v)", mA.Event.Position, mA.Cursor, mB.Cursor)
	}
	// A client that stopped right after B resumes with A, which has the
	// lower position.
	resumed, err := hub.Subscribe(Filter{}, &mB.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.Backlog) != 1 || resumed.Backlog[0].Event.Position != posA {
		t.Fatalf("resumed backlog %v", resumed.Backlog)
	}
}

func TestConsumerTamperAlertOnUpdate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	sub, _ := hub.Subscribe(Filter{StreamID: "nothing-matches"}, nil)
	pos := insertEvent(t, db.Pool, "w", 1, "Opened")
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE events SET payload = '{"amount": 500}' WHERE position = $1`, pos); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM events WHERE position = $1`, pos); err != nil {
		t.Fatal(err)
	}
	// Filters do not apply to alerts.
	for _, want := range []string{"update", "delete"} {
		m := next(t, sub)
		if m.Kind != KindAlert || m.Alert.Kind != want || m.Alert.Rows != 1 || len(m.Alert.Positions) != 1 || m.Alert.Positions[0] != pos || m.Alert.ID == 0 {
			t.Fatalf("message %+v, alert %+v; want %s alert on %d", m, m.Alert, want, pos)
		}
	}
	alerts, err := NewAlerts(db.Pool).Recent(ctx, 10)
	if err != nil || len(alerts) != 2 {
		t.Fatalf("stored alerts %v, %v", alerts, err)
	}
	sum, err := NewAlerts(db.Pool).Summary(ctx)
	if err != nil || sum.Count != 2 || sum.Latest == nil {
		t.Fatalf("summary %+v, %v", sum, err)
	}
}

// A TRUNCATE of the event table carries no rows: it is still an alert,
// recorded once, with no positions to list.
func TestConsumerTamperAlertOnTruncate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	alerts := NewAlerts(db.Pool)
	ctx := t.Context()
	sub, _ := hub.Subscribe(Filter{StreamID: "nothing-matches"}, nil)
	insertEvent(t, db.Pool, "w", 1, "Opened")
	insertEvent(t, db.Pool, "w", 2, "Deposited")
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable_truncate`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `TRUNCATE events`); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if m.Kind != KindAlert || m.Alert.Kind != "truncate" || m.Alert.Rows != 0 || len(m.Alert.Positions) != 0 || m.Alert.ID == 0 || m.Alert.CommittedAt.IsZero() {
		t.Fatalf("message %+v, alert %+v; want a stored truncate alert", m, m.Alert)
	}
	stored, err := alerts.Recent(ctx, 10)
	if err != nil || len(stored) != 1 || stored[0].Kind != "truncate" || stored[0].ID != m.Alert.ID || stored[0].CommitLSN != m.Alert.CommitLSN {
		t.Fatalf("stored alerts %+v, %v; want the one truncate alert %+v", stored, err, m.Alert)
	}
}

func TestConsumerLagOnCheckpointChange(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := NewHub(HubConfig{})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub)
	sub, _ := hub.Subscribe(Filter{EventType: "none"}, nil)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO projection_checkpoints (projection, position) VALUES ('balances', 7)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE projection_checkpoints SET position = 9, error_count = 1, last_error = 'boom' WHERE projection = 'balances'`); err != nil {
		t.Fatal(err)
	}
	m1, m2 := next(t, sub), next(t, sub)
	if m1.Kind != KindLag || m1.Checkpoint.Projection != "balances" || m1.Checkpoint.Position != 7 || m1.Checkpoint.LastError != nil {
		t.Fatalf("first lag %+v", m1.Checkpoint)
	}
	if m2.Kind != KindLag || m2.Checkpoint.Position != 9 || m2.Checkpoint.ErrorCount != 1 || m2.Checkpoint.LastError == nil || *m2.Checkpoint.LastError != "boom" || m2.Checkpoint.UpdatedAt.IsZero() {
		t.Fatalf("second lag %+v", m2.Checkpoint)
	}
}

// slotConfirmed reads the slot's confirmed flush position as a number.
func slotConfirmed(ctx context.Context, pool *pgxpool.Pool, slot string) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n)
	return n, err
}

func TestConsumerConfirmsWhileOnlyOtherTablesAreWritten(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// The window keeps events for resuming clients, and so holds back the
	// slot; a short MaxAge shows that a quiet events table releases it.
	hub := NewHub(HubConfig{MaxAge: 300 * time.Millisecond})
	slot := testSlot()
	startConsumer(t, db.Pool, db.ConnString, slot, hub)
	sub, _ := hub.Subscribe(Filter{}, nil)
	insertEvent(t, db.Pool, "w", 1, "Opened")
	nextEvent(t, sub)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE other (id int); INSERT INTO other SELECT generate_series(1, 1000)`); err != nil {
		t.Fatal(err)
	}
	var walNow int64
	if err := db.Pool.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&walNow); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the slot to confirm past the other table's writes", 20*time.Second, func(context.Context) (bool, error) {
		n, err := slotConfirmed(ctx, db.Pool, slot)
		return n >= walNow, err
	})
	if hub.Stats().Window != 0 {
		t.Fatalf("window still holds %d events", hub.Stats().Window)
	}
}

func TestHubBurstWithinBufferIsDelivered(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{Window: 5000, Buffer: 4000})
	sub, _ := h.Subscribe(Filter{}, nil)
	// One transaction of 3,000 events arrives at once: the subscriber has
	// not read anything yet, and is not cut off.
	h.PublishTx(10, hubEvents(3000, "burst"))
	h.PublishTx(20, hubEvents(1, "after"))
	for i := range 3001 {
		m := next(t, sub)
		want := Cursor{LSN: 10, Index: uint32(i)}
		if i == 3000 {
			want = Cursor{LSN: 20}
		}
		if m.Cursor != want {
			t.Fatalf("message %d: cursor %v, want %v", i, m.Cursor, want)
		}
	}
	// Beyond the buffer it is cut off, and what it had not read is gone.
	h.PublishTx(30, hubEvents(4001, "flood"))
	select {
	case <-sub.Done():
	default:
		t.Fatal("a subscriber 4,001 events behind was not cut off")
	}
	if sub.Reason() != ReasonSlow {
		t.Fatalf("reason %d", sub.Reason())
	}
}

func TestHubKeepsUnreadEventsThatLeftTheWindow(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{Window: 10, Buffer: 5})
	sub, _ := h.Subscribe(Filter{StreamID: "x"}, nil)
	h.PublishTx(1, hubEvents(1, "x"))
	for i := range 20 {
		h.PublishTx(uint64(2+i), hubEvents(1, "other"))
	}
	h.PublishTx(30, hubEvents(1, "x"))
	// Other streams' traffic pushed (1,0) out of the window; the filtered
	// subscriber, one event behind by its own count, still receives it.
	got := sub.Take(nil)
	if len(got) != 2 || got[0].Cursor != (Cursor{LSN: 1}) || got[1].Cursor != (Cursor{LSN: 30}) {
		t.Fatalf("took %v", got)
	}
	if h.Stats().Window != 10 || h.Stats().CutOff != 0 {
		t.Fatalf("stats %+v", h.Stats())
	}
}

// bigEvents are n events of stream with a payload of size bytes.
func bigEvents(n int, stream string, size int) []eventstore.Event {
	out := hubEvents(n, stream)
	for i := range out {
		out[i].Payload = json.RawMessage(`{"blob":"` + strings.Repeat("x", size-11) + `"}`)
	}
	return out
}

func TestHubWindowIsBoundedByBytes(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{WindowBytes: 1 << 20, BufferBytes: 1 << 20, LargeEvent: 64 << 10})
	for i := range 100 {
		h.PublishTx(uint64(10+i), bigEvents(1, "s", 30<<10))
	}
	st := h.Stats()
	if st.WindowBytes > 1<<20 || st.Window >= 100 || st.Window == 0 {
		t.Fatalf("100 events of 30 KiB in a 1 MiB window: %+v", st)
	}
	// An event above LargeEvent is kept without its data, whatever its size.
	h.PublishTx(500, bigEvents(1, "huge", 5<<20))
	m := h.Recent(Filter{StreamID: "huge"}, 1)[0]
	if !m.Large || m.PayloadBytes != 5<<20 || m.Event.Payload != nil || h.Stats().WindowBytes > 1<<20 {
		t.Fatalf("large event: large %v, %d bytes, payload kept %v, window %d bytes", m.Large, m.PayloadBytes, m.Event.Payload != nil, h.Stats().WindowBytes)
	}
}

func TestHubCutsOffByBytesNotBeforeTheBudget(t *testing.T) {
	t.Parallel()
	h := NewHub(HubConfig{WindowBytes: 256 << 10, BufferBytes: 2 << 20, LargeEvent: 64 << 10})
	sub, _ := h.Subscribe(Filter{}, nil)
	// About 1.5 MiB unread, far more than the window holds: all delivered.
	for i := range 16 {
		h.PublishTx(uint64(10+i), bigEvents(1, "s", 30<<10))
	}
	if got := sub.Take(nil); len(got) != 16 || got[0].Cursor.LSN != 10 || got[15].Cursor.LSN != 25 {
		t.Fatalf("slow reader within its byte budget took %d events", len(got))
	}
	// Past the budget it is cut off.
	for i := range 40 {
		h.PublishTx(uint64(100+i), bigEvents(1, "s", 30<<10))
	}
	select {
	case <-sub.Done():
	default:
		t.Fatal("a subscriber 3.6 MiB behind a 2 MiB budget was not cut off")
	}
	if sub.Reason() != ReasonSlow || h.Stats().CutOff != 1 {
		t.Fatalf("reason %d, stats %+v", sub.Reason(), h.Stats())
	}
}
