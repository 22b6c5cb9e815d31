package warmup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/internal/warmup"
)

// BenchmarkFirstView writes one long stream (AUDITD_WARMUP_BENCH_EVENTS,
// default 200,249 events: the worst tail, 249 after a snapshot interval)
// through real replication, in transactions of 2,000 events, and waits for
// the warmer to fold it. Each iteration is then a first view of the newest
// state as a reader gets it (snapshot probe and tail fold: no state is kept
// in memory between reads). The cold fold of the same stream without
// snapshots, measured once in the same run, is the baseline (cold-ms). Run:
//
//	go test ./internal/warmup -run '^$' -bench BenchmarkFirstView -benchtime 50x
func BenchmarkFirstView(b *testing.B) {
	n := 200_249
	if v, err := strconv.Atoi(os.Getenv("AUDITD_WARMUP_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	bu := setup(b, warmup.Options{})
	ctx := b.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	batch := make([]eventstore.Event, 0, 2_000)
	for v := 1; v <= n; v++ {
		batch = append(batch, eventstore.Event{StreamID: "wallet-long", StreamType: "Wallet", Version: v, EventType: "BalanceSet",
			Payload:  json.RawMessage(fmt.Sprintf(`{"balance":%d,"note":"event %d","tags":{"n":%d}}`, v, v, v%7)),
			Metadata: json.RawMessage(`{"actor":"agent:bench"}`), RecordedAt: t0.Add(time.Duration(v) * time.Second)})
		if len(batch) == cap(batch) || v == n {
			if _, err := bu.store.Import(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	written := time.Since(start)
	want := n / timetravel.DefaultSnapshotEvery * timetravel.DefaultSnapshotEvery
	pgtest.WaitFor(b, "the warmer to fold the stream", 10*time.Minute, func(context.Context) (bool, error) {
		return bu.warmer.Warmed("wallet-long") == want, nil
	})
	warm := time.Since(start) - written
	b.Logf("wrote %d events in %s; warm %s after the last commit; warmer %+v", n, written.Round(time.Millisecond),
		warm.Round(time.Millisecond), bu.warmer.Stats())

	cold := timetravel.NewService(bu.store, nil, nil, timetravel.ServiceOptions{SnapshotEvery: -1})
	coldStart := time.Now()
	full, err := cold.StateAt(ctx, "wallet-long", timetravel.Latest())
	if err != nil {
		b.Fatal(err)
	}
	coldMS := float64(time.Since(coldStart).Microseconds()) / 1000

	b.Run("warm", func(b *testing.B) {
		before := bu.tt.Stats()
		for b.Loop() {
			st, err := bu.tt.StateAt(ctx, "wallet-long", timetravel.Latest())
			if err != nil || st.Version != n || !timetravel.JSONEqual(st.Data, full.Data) {
				b.Fatalf("state v%d: %v", st.Version, err)
			}
		}
		after := bu.tt.Stats()
		b.ReportMetric(float64(after.EventsFolded-before.EventsFolded)/float64(b.N), "events-folded/op")
		b.ReportMetric(coldMS, "cold-ms")
		b.ReportMetric(warm.Seconds(), "warm-up-s")
	})
}
