package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func setup(t testing.TB) (*eventstore.Store, *pgtest.DB) {
	t.Helper()
	db := pgtest.NewDB(t)
	return eventstore.New(db.Pool), db
}

func newEv(eventType, payload string) eventstore.NewEvent {
	return eventstore.NewEvent{EventType: eventType, Payload: json.RawMessage(payload)}
}

func TestAppendAndReadRoundTrip(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	in := []eventstore.NewEvent{
		{EventType: "WalletOpened", Payload: json.RawMessage(`{"owner":"Zoë","currency":"EUR"}`),
			Metadata: json.RawMessage(`{"actor":"customer:zoe","source":"mobile-app","correlation_id":"c-1"}`)},
		{EventType: "MoneyDeposited", SchemaVersion: 2, Payload: json.RawMessage(`{"amount":125.50}`), RecordedAt: at},
	}
	out, err := store.Append(ctx, "wallet-1", "Wallet", eventstore.NoStream, in...)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Version != 1 || out[1].Version != 2 || out[1].Position <= out[0].Position {
		t.Fatalf("append result: %+v", out)
	}
	got, err := store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "wallet-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d events", len(got))
	}
	if got[0].EventType != "WalletOpened" || got[0].Actor() != "customer:zoe" || got[0].Source() != "mobile-app" || got[0].CorrelationID() != "c-1" {
		t.Errorf("first event: %+v", got[0])
	}
	var p map[string]any
	if err := json.Unmarshal(got[0].Payload, &p); err != nil || p["owner"] != "Zoë" {
		t.Errorf("payload round trip: %s", got[0].Payload)
	}
	if got[1].SchemaVersion != 2 || !got[1].RecordedAt.Equal(at) || !strings.Contains(string(got[1].Payload), "125.5") {
		t.Errorf("second event: %+v", got[1])
	}
	if !eventstore.IsEventID(got[0].EventID) || got[0].EventID != out[0].EventID {
		t.Errorf("event id %q vs %q", got[0].EventID, out[0].EventID)
	}
	if string(got[1].Metadata) != "{}" {
		t.Errorf("default metadata = %s", got[1].Metadata)
	}
	ev, err := store.Event(ctx, out[1].Position)
	if err != nil || ev.EventID != out[1].EventID {
		t.Errorf("Event(position) = %+v, %v", ev, err)
	}
	ev, err = store.EventByID(ctx, out[0].EventID)
	if err != nil || ev.Position != out[0].Position {
		t.Errorf("EventByID = %+v, %v", ev, err)
	}
	si, err := store.Stream(ctx, "wallet-1")
	if err != nil || si.Version != 2 || si.StreamType != "Wallet" || si.LastType != "MoneyDeposited" {
		t.Errorf("Stream = %+v, %v", si, err)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	cases := []struct {
		name       string
		stream     string
		streamType string
		events     []eventstore.NewEvent
		want       error
	}{
		{"empty stream id", " ", "Wallet", []eventstore.NewEvent{newEv("A", `{}`)}, eventstore.ErrEmptyStreamID},
		{"empty stream type", "s", "", []eventstore.NewEvent{newEv("A", `{}`)}, eventstore.ErrEmptyStreamType},
		{"no events", "s", "T", nil, eventstore.ErrNoEvents},
		{"empty event type", "s", "T", []eventstore.NewEvent{newEv("", `{}`)}, eventstore.ErrEmptyEventType},
		{"array payload", "s", "T", []eventstore.NewEvent{newEv("A", `[1]`)}, eventstore.ErrInvalidPayload},
		{"invalid json", "s", "T", []eventstore.NewEvent{newEv("A", `{"a":`)}, eventstore.ErrInvalidPayload},
		{"string metadata", "s", "T", []eventstore.NewEvent{{EventType: "A", Payload: []byte(`{}`), Metadata: []byte(`"x"`)}}, eventstore.ErrInvalidMetadata},
	}
	for _, tc := range cases {
		if _, err := store.Append(ctx, tc.stream, tc.streamType, eventstore.AnyVersion, tc.events...); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := store.Append(ctx, "s", "T", eventstore.NoStream, newEv("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "s", "Other", eventstore.AnyVersion, newEv("A", `{}`)); !errors.Is(err, eventstore.ErrStreamTypeMismatch) {
		t.Errorf("type mismatch: %v", err)
	}
	if _, err := store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "missing"}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("unknown stream: %v", err)
	}
	if _, err := store.Stream(ctx, "missing"); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("unknown stream info: %v", err)
	}
	if _, err := store.EventByID(ctx, "not-a-uuid"); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Errorf("bad event id: %v", err)
	}
	if _, err := store.Event(ctx, 999999); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Errorf("unknown position: %v", err)
	}
	if _, err := store.ReadLog(ctx, eventstore.LogQuery{Before: -1}); !errors.Is(err, eventstore.ErrInvalidCursor) {
		t.Errorf("negative cursor: %v", err)
	}
}

func TestAppendIsAllOrNothing(t *testing.T) {
	t.Parallel()
	store, db := setup(t)
	ctx := t.Context()
	// The second event's id collides with the first: the database rejects
	// the batch, and neither event may remain.
	id := eventstore.NewEventID()
	_, err := store.Append(ctx, "s", "T", eventstore.NoStream,
		eventstore.NewEvent{EventID: id, EventType: "A", Payload: []byte(`{}`)},
		eventstore.NewEvent{EventID: id, EventType: "B", Payload: []byte(`{}`)})
	if err == nil {
		t.Fatal("duplicate event ids accepted")
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("events after failed append = %d (%v)", n, err)
	}
}

func TestVersionConflict(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	if _, err := store.Append(ctx, "s", "T", eventstore.NoStream, newEv("A", `{}`), newEv("B", `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := store.Append(ctx, "s", "T", 1, newEv("C", `{}`))
	var vc *eventstore.VersionConflictError
	if !errors.As(err, &vc) || !errors.Is(err, eventstore.ErrVersionConflict) || vc.Actual != 2 || vc.Expected != 1 {
		t.Fatalf("stale expected version: %v", err)
	}
	if _, err := store.Append(ctx, "s", "T", eventstore.NoStream, newEv("C", `{}`)); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Errorf("NoStream on existing stream: %v", err)
	}
	if out, err := store.Append(ctx, "s", "T", 2, newEv("C", `{}`)); err != nil || out[0].Version != 3 {
		t.Errorf("correct expected version: %v", err)
	}
}

// Two goroutines append at the same expected version at once: exactly one
// wins, the other gets a version conflict naming the winner's version.
func TestConcurrentAppendersExactlyOneWins(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	if _, err := store.Append(ctx, "race", "T", eventstore.NoStream, newEv("A", `{}`)); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 20; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = store.Append(ctx, "race", "T", round, newEv(fmt.Sprintf("W%d", i), `{}`))
			}()
		}
		close(start)
		wg.Wait()
		wins, conflicts := 0, 0
		for _, err := range errs {
			var vc *eventstore.VersionConflictError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &vc):
				conflicts++
				if vc.Actual != round+1 {
					t.Errorf("round %d: conflict reports actual %d, want %d", round, vc.Actual, round+1)
				}
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins, %d conflicts", round, wins, conflicts)
		}
	}
	si, err := store.Stream(ctx, "race")
	if err != nil || si.Version != 21 {
		t.Errorf("final version = %d (%v), want 21", si.Version, err)
	}
}

func TestEventsAreImmutable(t *testing.T) {
	t.Parallel()
	store, db := setup(t)
	ctx := t.Context()
	if _, err := store.Append(ctx, "s", "T", eventstore.NoStream, newEv("A", `{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE events SET payload = '{"a":2}'`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		_, err := db.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "events are immutable") {
			t.Errorf("%s: err = %v, want immutability error", sql, err)
		}
	}
	var payload string
	if err := db.Pool.QueryRow(ctx, `SELECT payload::text FROM events`).Scan(&payload); err != nil || payload != `{"a": 1}` {
		t.Errorf("payload after rejected changes = %s (%v)", payload, err)
	}
}

func TestStreamPaginationAtDepth(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []eventstore.Event
	for v := 1; v <= 1000; v++ {
		batch = append(batch, eventstore.Event{StreamID: "deep", StreamType: "T", Version: v, EventType: "Tick",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, v)), RecordedAt: base.Add(time.Duration(v) * time.Minute)})
	}
	if _, err := store.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Walk forward in pages of 50 and see every version once, in order.
	after, seen := 0, 0
	for {
		page, err := store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "deep", After: after, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			seen++
			if e.Version != seen {
				t.Fatalf("forward: got version %d, want %d", e.Version, seen)
			}
		}
		after = page[len(page)-1].Version
	}
	if seen != 1000 {
		t.Fatalf("forward saw %d", seen)
	}
	// Backward from the end, a page deep in the stream.
	page, err := store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "deep", Backward: true, Before: 801, Limit: 3})
	if err != nil || len(page) != 3 || page[0].Version != 800 || page[2].Version != 798 {
		t.Fatalf("backward page: %v %v", page, err)
	}
	// Bounded by version and by time.
	page, err = store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "deep", Backward: true, MaxVersion: 10, Limit: 1})
	if err != nil || page[0].Version != 10 {
		t.Fatalf("max version: %v %v", page, err)
	}
	page, err = store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "deep", Backward: true, Until: base.Add(20*time.Minute + time.Second), Limit: 1})
	if err != nil || page[0].Version != 20 {
		t.Fatalf("until: %v %v", page, err)
	}
	// The global log, newest first, keyset on position.
	log1, err := store.ReadLog(ctx, eventstore.LogQuery{Limit: 10})
	if err != nil || len(log1) != 10 || log1[0].Version != 1000 {
		t.Fatalf("log page 1: %v", err)
	}
	log2, err := store.ReadLog(ctx, eventstore.LogQuery{Limit: 10, Before: log1[9].Position})
	if err != nil || len(log2) != 10 || log2[0].Version != 990 {
		t.Fatalf("log page 2: %v", err)
	}
	log3, err := store.ReadLog(ctx, eventstore.LogQuery{OldestFirst: true, After: log1[9].Position, Limit: 5})
	if err != nil || len(log3) != 5 || log3[0].Version != 992 {
		t.Fatalf("log oldest-first: %v", err)
	}
}

func TestLogFilters(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	mk := func(typ, actor, corr string, at time.Time) eventstore.NewEvent {
		return eventstore.NewEvent{EventType: typ, Payload: []byte(`{}`), RecordedAt: at,
			Metadata: []byte(fmt.Sprintf(`{"actor":%q,"correlation_id":%q}`, actor, corr))}
	}
	must := func(_ []eventstore.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(store.Append(ctx, "wallet-a", "Wallet", eventstore.AnyVersion,
		mk("WalletOpened", "customer:a", "c1", t0), mk("MoneyWithdrawn", "job:nightly-fees", "c2", t0.Add(time.Hour))))
	must(store.Append(ctx, "wallet-b", "Wallet", eventstore.AnyVersion, mk("MoneyWithdrawn", "job:nightly-fees", "c2", t0.Add(2*time.Hour))))
	must(store.Append(ctx, "order-a", "Order", eventstore.AnyVersion, mk("OrderPlaced", "customer:a", "c1", t0.Add(3*time.Hour))))

	count := func(q eventstore.LogQuery) int {
		t.Helper()
		evs, err := store.ReadLog(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	checks := []struct {
		name string
		q    eventstore.LogQuery
		want int
	}{
		{"all", eventstore.LogQuery{}, 4},
		{"stream type", eventstore.LogQuery{StreamType: "Wallet"}, 3},
		{"event type", eventstore.LogQuery{EventType: "MoneyWithdrawn"}, 2},
		{"correlation", eventstore.LogQuery{CorrelationID: "c1"}, 2},
		{"actor", eventstore.LogQuery{Actor: "job:nightly-fees"}, 2},
		{"stream", eventstore.LogQuery{StreamID: "wallet-a"}, 2},
		{"time range", eventstore.LogQuery{From: t0.Add(30 * time.Minute), To: t0.Add(2 * time.Hour)}, 2},
		{"combined", eventstore.LogQuery{Actor: "job:nightly-fees", From: t0.Add(90 * time.Minute)}, 1},
		{"no match", eventstore.LogQuery{EventType: "Nope"}, 0},
	}
	for _, c := range checks {
		if got := count(c.q); got != c.want {
			t.Errorf("%s: %d events, want %d", c.name, got, c.want)
		}
	}
	if _, err := store.ReadLog(ctx, eventstore.LogQuery{From: t0, To: t0.Add(-time.Hour)}); err == nil {
		t.Error("inverted time range accepted")
	}

	streams, err := store.ListStreams(ctx, eventstore.StreamListQuery{Prefix: "wallet-"})
	if err != nil || len(streams) != 2 || streams[0].StreamID != "wallet-a" || streams[0].Version != 2 {
		t.Fatalf("list by prefix: %+v %v", streams, err)
	}
	streams, err = store.ListStreams(ctx, eventstore.StreamListQuery{StreamType: "Order"})
	if err != nil || len(streams) != 1 || streams[0].StreamID != "order-a" {
		t.Fatalf("list by type: %+v %v", streams, err)
	}
	streams, err = store.ListStreams(ctx, eventstore.StreamListQuery{After: "order-a", Limit: 1})
	if err != nil || len(streams) != 1 || streams[0].StreamID != "wallet-a" {
		t.Fatalf("list keyset: %+v %v", streams, err)
	}
	// LIKE wildcards in a prefix match literally.
	streams, err = store.ListStreams(ctx, eventstore.StreamListQuery{Prefix: "wallet_"})
	if err != nil || len(streams) != 0 {
		t.Fatalf("wildcard prefix matched: %+v %v", streams, err)
	}
	head, err := store.Head(ctx)
	if err != nil || head.Position == 0 || !head.RecordedAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("head: %+v %v", head, err)
	}
}

func TestCountsFollowAppendsAndFolding(t *testing.T) {
	t.Parallel()
	store, _ := setup(t)
	ctx := t.Context()
	total := func() (events, streams int64) {
		t.Helper()
		cs, err := store.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			events += c.Events
			streams += c.Streams
		}
		return
	}
	if _, err := store.Append(ctx, "a", "T", eventstore.AnyVersion, newEv("X", `{}`), newEv("Y", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(ctx, []eventstore.Event{{StreamID: "b", StreamType: "T", Version: 1, EventType: "X", Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if e, s := total(); e != 3 || s != 2 {
		t.Fatalf("before fold: %d events %d streams", e, s)
	}
	if _, err := store.FoldCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "a", "T", eventstore.AnyVersion, newEv("X", `{}`)); err != nil {
		t.Fatal(err)
	}
	if e, s := total(); e != 4 || s != 2 {
		t.Fatalf("after fold: %d events %d streams", e, s)
	}
	if _, err := store.FoldCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if e, s := total(); e != 4 || s != 2 {
		t.Fatalf("after second fold: %d events %d streams", e, s)
	}
}

func TestCountFolderRunsInBackground(t *testing.T) {
	t.Parallel()
	store, db := setup(t)
	ctx := t.Context()
	if _, err := store.Append(ctx, "a", "T", eventstore.AnyVersion, newEv("X", `{}`)); err != nil {
		t.Fatal(err)
	}
	f := eventstore.NewCountFolder(store, nil, time.Hour)
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.Stop()
	// The first round notes the head; the events up to it are folded once
	// the transactions of that moment have ended.
	var pending int64
	if err := db.Pool.QueryRow(ctx, `SELECT pending_head FROM auditd.event_count_progress`).Scan(&pending); err != nil || pending != 1 {
		t.Errorf("pending head after start = %d (%v), want 1", pending, err)
	}
}

var _ = context.Background
