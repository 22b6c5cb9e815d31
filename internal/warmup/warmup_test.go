package warmup_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/internal/warmup"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var slotSeq atomic.Int64

// bundle is a database with the live path running on it (consumer, hub)
// and a warmer of a time-travel service's snapshots fed by the hub.
type bundle struct {
	db     *pgtest.DB
	store  *eventstore.Store
	tt     *timetravel.Service
	warmer *warmup.Warmer
}

func setup(t testing.TB, opts warmup.Options) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	hub := live.NewHub(live.HubConfig{})
	slot := fmt.Sprintf("warmup_test_%d", slotSeq.Add(1))
	c := live.NewConsumer(live.ConsumerConfig{
		ConnString: db.ConnString, Slot: slot, Publication: "auditd_events",
		StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}, db.Pool, hub, live.NewAlerts(db.Pool))
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("start consumer: %v", err)
	}
	tt := timetravel.NewService(store, nil, nil, timetravel.ServiceOptions{})
	w := warmup.New(hub, tt, nil, opts)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Stop()
		hub.Close()
		c.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot)
	})
	return &bundle{db: db, store: store, tt: tt, warmer: w}
}

// deposits are n events setting a running balance.
func deposits(from, n int) []eventstore.NewEvent {
	out := make([]eventstore.NewEvent, n)
	for i := range out {
		out[i] = eventstore.NewEvent{EventType: "BalanceSet",
			Payload: fmt.Appendf(nil, `{"balance":%d,"note":"deposit %d"}`, from+i, from+i), Metadata: []byte(`{}`)}
	}
	return out
}

// TestWarmerFoldsStreamsAsTheyCommit writes 1,010 events through real
// replication in ten transactions; the warmer folds the stream up to
// version 1,000 without being asked, at most once per snapshot interval
// passed, and the first read of the newest state then folds only the 10
// events after that snapshot.
func TestWarmerFoldsStreamsAsTheyCommit(t *testing.T) {
	t.Parallel()
	b := setup(t, warmup.Options{Debounce: 20 * time.Millisecond})
	ctx := t.Context()
	for i := range 10 {
		n := 101
		if _, err := b.store.Append(ctx, "wallet-warm", "Wallet", eventstore.AnyVersion, deposits(i*n+1, n)...); err != nil {
			t.Fatal(err)
		}
	}
	pgtest.WaitFor(t, "the warmer to fold wallet-warm up to version 1000", 30*time.Second, func(context.Context) (bool, error) {
		return b.warmer.Warmed("wallet-warm") == 1000, nil
	})
	if st := b.warmer.Stats(); st.Folds < 1 || st.Folds > 4 || st.Failures != 0 {
		t.Errorf("warmer stats = %+v, want 1 to 4 folds (one per interval passed at most)", st)
	}

	before := b.tt.Stats()
	st, err := b.tt.StateAt(ctx, "wallet-warm", timetravel.Latest())
	if err != nil {
		t.Fatal(err)
	}
	after := b.tt.Stats()
	if folded := after.EventsFolded - before.EventsFolded; folded != 10 {
		t.Errorf("the first read folded %d events, want the 10 after the warm snapshot", folded)
	}
	if after.SnapshotsLoaded != before.SnapshotsLoaded+1 {
		t.Errorf("the first read loaded %d snapshots, want 1", after.SnapshotsLoaded-before.SnapshotsLoaded)
	}
	// The warm state is the state a full fold gives.
	cold := timetravel.NewService(b.store, nil, nil, timetravel.ServiceOptions{SnapshotEvery: -1})
	full, err := cold.StateAt(ctx, "wallet-warm", timetravel.Latest())
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 1010 || !timetravel.JSONEqual(st.Data, full.Data) {
		t.Errorf("warm state v%d %v, full fold v%d %v", st.Version, st.Data, full.Version, full.Data)
	}
}

// TestWarmerIgnoresShortStreams: a stream shorter than one snapshot
// interval has nothing to warm, and many such streams cost no fold.
func TestWarmerIgnoresShortStreams(t *testing.T) {
	t.Parallel()
	b := setup(t, warmup.Options{Debounce: 10 * time.Millisecond})
	ctx := t.Context()
	for i := range 20 {
		if _, err := b.store.Append(ctx, fmt.Sprintf("short-%02d", i), "Wallet", eventstore.NoStream, deposits(1, 10)...); err != nil {
			t.Fatal(err)
		}
	}
	// A long stream written last: once it is warm, the warmer has read
	// the short ones' events (the hub delivers in commit order).
	if _, err := b.store.Append(ctx, "long", "Wallet", eventstore.NoStream, deposits(1, 300)...); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the warmer to fold the long stream", 30*time.Second, func(context.Context) (bool, error) {
		return b.warmer.Warmed("long") == 250, nil
	})
	if st := b.warmer.Stats(); st.Folds != 1 {
		t.Errorf("warmer stats = %+v, want one fold (the long stream)", st)
	}
	if got := b.warmer.Warmed("short-00"); got != 0 {
		t.Errorf("short stream warmed to %d", got)
	}
}

// TestWarmerRecoversFromAHugeTransaction commits one transaction of more
// events than a hub subscriber may have unread: the hub cuts the warmer off,
// and it still warms the stream, from the events left in the hub's window.
func TestWarmerRecoversFromAHugeTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t, warmup.Options{Debounce: 10 * time.Millisecond})
	const n = 5_000 // above the hub's per-subscriber Buffer (4,096)
	if _, err := b.store.Append(t.Context(), "bulk", "Wallet", eventstore.NoStream, deposits(1, n)...); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the warmer to fold the bulk stream", 60*time.Second, func(context.Context) (bool, error) {
		return b.warmer.Warmed("bulk") == n, nil
	})
	if st := b.warmer.Stats(); st.Resubscribe != 1 {
		t.Errorf("warmer stats = %+v, want one cut-off and subscription again", st)
	}
}
