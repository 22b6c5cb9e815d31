package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// noRecord is the benchmark's baseline: the page without its entry.
type noRecord struct{}

func (noRecord) RecordAccess(context.Context, access.AccessEntry) error { return nil }

// BenchmarkTimelineAccessLog is what recording a view adds to a page: the
// 50-event timeline page of a 60-event stream, HTML, requested with and
// without its access log entry in turn (so that the load of a shared
// machine weighs on both alike), on the test cluster as it is (fsync off)
// and with fsync and synchronous_commit on, as a production server runs
// (the entry is then on disk before the page is sent). It reports the
// median of each and their ratio. Run it alone: it turns the test
// cluster's fsync on for its duration.
//
//	go test ./web -run '^$' -bench BenchmarkTimelineAccessLog -benchtime 500x -count 3
func BenchmarkTimelineAccessLog(b *testing.B) {
	db := pgtest.NewDB(b)
	store := eventstore.New(db.Pool)
	ctx := b.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]eventstore.Event, 60)
	for i := range evs {
		v := i + 1
		evs[i] = eventstore.Event{StreamID: "wallet-1", StreamType: "Wallet", Version: v, EventType: "BalanceSet",
			Payload:    json.RawMessage(fmt.Sprintf(`{"balance":%d,"note":"event %d"}`, v, v)),
			Metadata:   json.RawMessage(`{"actor":"agent:bench","source":"bench"}`),
			RecordedAt: t0.Add(time.Duration(v) * time.Second)}
	}
	if _, err := store.Import(ctx, evs); err != nil {
		b.Fatal(err)
	}
	srv := New(testConfig, Deps{Pool: db.Pool, Store: store})
	recorded := srv.recorder
	get := func(b *testing.B, r recorder) time.Duration {
		srv.recorder = r
		req := httptest.NewRequest(http.MethodGet, "/streams/wallet-1", nil)
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		start := time.Now()
		srv.Handler().ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("timeline: %d %.300s", rec.Code, rec.Body)
		}
		return d
	}
	setFsync := func(on string) {
		for _, sql := range []string{`ALTER SYSTEM SET fsync = ` + on, `ALTER SYSTEM SET synchronous_commit = ` + on, `SELECT pg_reload_conf()`} {
			if _, err := db.Pool.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
		pgtest.WaitFor(b, "fsync "+on, 10*time.Second, func(ctx context.Context) (bool, error) {
			var got string
			err := db.Pool.QueryRow(ctx, `SELECT current_setting('fsync')`).Scan(&got)
			return got == on, err
		})
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	for _, fsync := range []string{"off", "on"} {
		if fsync == "on" {
			setFsync("on")
			b.Cleanup(func() {
				for _, sql := range []string{`ALTER SYSTEM RESET fsync`, `ALTER SYSTEM RESET synchronous_commit`, `SELECT pg_reload_conf()`} {
					_, _ = db.Pool.Exec(context.Background(), sql)
				}
			})
		}
		b.Run("fsync="+fsync, func(b *testing.B) {
			get(b, recorded) // warm: plans, pool connections
			var with, without []time.Duration
			for b.Loop() {
				without = append(without, get(b, noRecord{}))
				with = append(with, get(b, recorded))
			}
			w, wo := median(with), median(without)
			b.ReportMetric(wo, "unrecorded-ms")
			b.ReportMetric(w, "recorded-ms")
			b.ReportMetric(w-wo, "added-ms")
			b.ReportMetric(w/wo, "ratio")
		})
	}
}
