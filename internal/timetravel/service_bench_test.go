package timetravel

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkStateAt measures the state of a 100,000-event wallet at random
// moments (time points, resolved through the recorded_at index), read
// through the service against PostgreSQL: from the snapshots a first fold
// left behind, and by a full fold from the first event, in the same run.
//
//	go test ./internal/timetravel -run '^$' -bench BenchmarkStateAt -benchtime 3s
func BenchmarkStateAt(b *testing.B) {
	const n = 100_000
	ctx := b.Context()
	store := seedWallet(b, "wallet-big", n)
	withSnapshots := newService(b, store, serviceWalletRules, 0) // default: every DefaultSnapshotEvery events
	fullFold := newService(b, store, serviceWalletRules, -1)

	start := time.Now()
	if _, err := fullFold.StateAt(ctx, "wallet-big", Point{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("full fold of %d events: %s", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := withSnapshots.StateAt(ctx, "wallet-big", Point{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("first fold of %d events, writing %d snapshots: %s", n, withSnapshots.Stats().SnapshotsWritten, time.Since(start).Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(1, 2))
	points := make([]Point, 256)
	versions := make([]int, len(points))
	for i := range points {
		versions[i] = 1 + rng.IntN(n)
		points[i] = AtTime(tt0.Add(time.Duration(versions[i])*time.Minute + 30*time.Second))
	}
	run := func(svc *Service, perOp *float64) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			for b.Loop() {
				k := i % len(points)
				st, err := svc.StateAt(ctx, "wallet-big", points[k])
				if err != nil {
					b.Fatal(err)
				}
				if st.Version != versions[k] {
					b.Fatalf("state at %v is v%d, want v%d", points[k], st.Version, versions[k])
				}
				i++
			}
			*perOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(*perOp/1e6, "ms/op")
		}
	}
	var snapNs, fullNs float64
	b.Run("snapshots", run(withSnapshots, &snapNs))
	b.Run("full_fold", run(fullFold, &fullNs))
	if snapNs > 0 && fullNs > 0 {
		b.Logf("state at T of a %d-event stream: %.2f ms with snapshots, %.1f ms by a full fold: %.0fx faster",
			n, snapNs/1e6, fullNs/1e6, fullNs/snapNs)
	}
}
