package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// BenchmarkEventPage measures the server time of event pages on the demo
// world (50,000 events; AUDITD_EVENT_BENCH_EVENTS changes it), against the
// dispute wallet's timeline page in the same run as the baseline: an
// ordinary event, the disputed withdrawal (a cause and a chain of three
// effects, five correlated events) and the fee run's first event (one
// effect per wallet charged that night). Run it with:
//
//	go test ./web -run '^$' -bench BenchmarkEventPage -benchtime 200x
func BenchmarkEventPage(b *testing.B) {
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("AUDITD_EVENT_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	db := pgtest.NewDB(b)
	store := eventstore.New(db.Pool)
	ctx := b.Context()
	start := time.Now()
	if _, err := demo.Seed(ctx, store, demo.Options{Events: n}, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d demo events in %s", n, time.Since(start).Round(time.Second))
	srv := New(testConfig, Deps{Pool: db.Pool, Store: store})
	position := func(eventID string) string {
		ev, err := store.EventByID(ctx, eventID)
		if err != nil {
			b.Fatal(err)
		}
		return fmt.Sprint(ev.Position)
	}
	pages := []struct{ name, path string }{
		{"timeline", "/streams/" + demo.DisputeWalletID},
		{"event/ordinary", "/events/" + fmt.Sprint(n/2)},
		{"event/dispute-withdrawal", "/events/" + position(demo.DisputeWithdrawalEventID)},
		{"event/fee-run-started", "/events/" + position(demo.DisputeFeeRunEventID)},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.Header.Set("Accept", "text/html")
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %.300s", p.path, rec.Code, rec.Body)
				}
			}
		})
	}
}
