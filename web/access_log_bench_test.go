package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/schema"
)

// noRecord is the benchmark's baseline: the page without its entry.
type noRecord struct{}

func (noRecord) RecordAccess(context.Context, access.AccessEntry) error { return nil }

// BenchmarkTimelineAccessLog is what recording a view adds to a page: the
// 50-event timeline page of a 60-event stream, HTML, requested with and
// without its access log entry in turn (so that the load of a shared
// machine weighs on both alike). It runs on the test cluster (fsync off:
// the entry's cost without the disk) and on a private cluster as auditd
// serve starts it (fsync and synchronous_commit on: the entry is on disk
// before the page is sent), and reports the medians and their ratio.
//
//	go test ./web -run '^$' -bench BenchmarkTimelineAccessLog -benchtime 500x -count 3
func BenchmarkTimelineAccessLog(b *testing.B) {
	b.Run("fsync=off", func(b *testing.B) { benchAccessLog(b, pgtest.NewDB(b).Pool) })
	b.Run("fsync=on", func(b *testing.B) {
		dir, err := os.MkdirTemp("", "auditd-bench-") // short: the socket path must fit sun_path
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		cluster := pgembed.New(pgembed.Config{DataDir: dir})
		if err := cluster.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cluster.Stop() })
		if err := cluster.CreateDatabase(b.Context(), "auditd"); err != nil {
			b.Fatal(err)
		}
		pool, err := pgxpool.New(b.Context(), cluster.ConnString("auditd"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		if _, err := schema.Migrate(b.Context(), pool); err != nil {
			b.Fatal(err)
		}
		benchAccessLog(b, pool)
	})
}

func benchAccessLog(b *testing.B, pool *pgxpool.Pool) {
	store := eventstore.New(pool)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]eventstore.Event, 60)
	for i := range evs {
		v := i + 1
		evs[i] = eventstore.Event{StreamID: "wallet-1", StreamType: "Wallet", Version: v, EventType: "BalanceSet",
			Payload:    json.RawMessage(fmt.Sprintf(`{"balance":%d,"note":"event %d"}`, v, v)),
			Metadata:   json.RawMessage(`{"actor":"agent:bench","source":"bench"}`),
			RecordedAt: t0.Add(time.Duration(v) * time.Second)}
	}
	if _, err := store.Import(b.Context(), evs); err != nil {
		b.Fatal(err)
	}
	srv := New(testConfig, Deps{Pool: pool, Store: store})
	recorded := srv.recorder
	get := func(r recorder) time.Duration {
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
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	get(recorded) // warm: plans, pool connections
	var with, without []time.Duration
	for b.Loop() {
		without = append(without, get(noRecord{}))
		with = append(with, get(recorded))
	}
	w, wo := median(with), median(without)
	b.ReportMetric(wo, "unrecorded-ms")
	b.ReportMetric(w, "recorded-ms")
	b.ReportMetric(w-wo, "added-ms")
	b.ReportMetric(w/wo, "ratio")
}
