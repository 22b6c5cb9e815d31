package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
)

// BenchmarkTimelinePage measures the server time of a 50-event timeline page
// (HTML, with every event's changes) on a 1,000,000-event store: one
// 200,000-event stream read at several depths, and 800 streams of 1,000
// events. Run it with:
//
//	go test ./web -run '^$' -bench BenchmarkTimelinePage -benchtime 200x
func BenchmarkTimelinePage(b *testing.B) {
	db := pgtest.NewDB(b)
	store := eventstore.New(db.Pool)
	ctx := b.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const big, small, smallLen = 200_000, 800, 1_000

	start := time.Now()
	batch := make([]eventstore.Event, 0, 50_000)
	flush := func() {
		if _, err := store.Import(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	add := func(stream, typ string, v int) {
		batch = append(batch, eventstore.Event{StreamID: stream, StreamType: typ, Version: v, EventType: "BalanceSet",
			Payload:    json.RawMessage(fmt.Sprintf(`{"balance":%d,"note":"event %d","tags":{"n":%d}}`, v, v, v%7)),
			Metadata:   json.RawMessage(`{"actor":"agent:bench","source":"bench","correlation_id":"c-` + fmt.Sprint(v%1000) + `"}`),
			RecordedAt: t0.Add(time.Duration(v) * time.Second)})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	for v := 1; v <= big; v++ {
		add("wallet-big", "Wallet", v)
	}
	for s := range small {
		for v := 1; v <= smallLen; v++ {
			add(fmt.Sprintf("wallet-%04d", s), "Wallet", v)
		}
	}
	flush()
	if _, err := db.Pool.Exec(ctx, `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d events in %s", big+small*smallLen, time.Since(start).Round(time.Second))

	// The time-travel service as auditd serve builds it (merge-patch
	// folding, no reducer file), with its default snapshot interval and
	// with a denser one: a page folds at most interval-1 events after the
	// newest snapshot before it.
	var srv *Server
	get := func(b *testing.B, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body)
		}
	}
	page := func(b *testing.B, path string) {
		// The first visit of a depth folds up to it once and leaves
		// snapshots behind; it is reported apart (cold-ms), the loop
		// measures the page as every later reader gets it.
		cold := time.Now()
		get(b, path)
		coldMS := float64(time.Since(cold).Microseconds()) / 1000
		for b.Loop() {
			get(b, path)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		b.ReportMetric(coldMS, "cold-ms")
	}
	for _, every := range []int{1000, timetravel.DefaultSnapshotEvery} {
		tt := timetravel.NewService(store, nil, nil, timetravel.ServiceOptions{SnapshotEvery: every})
		srv = New(testConfig, Deps{Pool: db.Pool, Store: store, TimeTravel: tt})
		b.Run(fmt.Sprintf("snapshots=%d", every), func(b *testing.B) { timelinePages(b, t0, page) })
	}
}

func timelinePages(b *testing.B, t0 time.Time, page func(*testing.B, string)) {
	for _, c := range []struct{ name, path string }{
		{"big/first", "/streams/wallet-big?after=0"},
		{"big/depth=99990", "/streams/wallet-big?after=99990"},
		{"big/depth=123456", "/streams/wallet-big?after=123456"},
		{"big/newest", "/streams/wallet-big"},
		{"big/at-time", "/streams/wallet-big?at=" + t0.Add(150_000*time.Second).Format(time.RFC3339)},
		{"small/middle", "/streams/wallet-0400?after=500"},
	} {
		b.Run(c.name, func(b *testing.B) { page(b, c.path) })
	}
}
