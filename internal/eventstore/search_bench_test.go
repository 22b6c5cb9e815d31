package eventstore_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// BenchmarkSearchStreams compares, on one store in the same run, the exact
// prefix search on the stream heads with the search anywhere in an id, in
// any case, through the stream catalogue's trigram index: a rare match
// (DISPUTE: one stream in 1,000), a common one (a run of digits in 1 of
// 100 ids) and a miss. The store has 10 events per stream; run it with
//
//	go test ./internal/eventstore -run '^$' -bench BenchmarkSearchStreams -benchtime 200x
//
// AUDITD_SEARCH_BENCH_EVENTS=10000000 loads 10M events (1M streams).
func BenchmarkSearchStreams(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AUDITD_SEARCH_BENCH_EVENTS")); err == nil && v >= 10_000 {
		n = v
	}
	store, db := setup(b)
	ctx := b.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	batch := make([]eventstore.Event, 0, 20_000)
	for i := range n {
		s := i / 10
		id := fmt.Sprintf("wallet-%07d", s)
		if s%1000 == 7 {
			id = fmt.Sprintf("wallet-dispute-%07d", s)
		}
		batch = append(batch, eventstore.Event{StreamID: id, StreamType: "Wallet", Version: i%10 + 1,
			EventType: "MoneyDeposited", Payload: json.RawMessage(`{"amount":1.25}`),
			Metadata: json.RawMessage(`{"actor":"customer:bench"}`), RecordedAt: t0.Add(time.Duration(i) * time.Second)})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := store.Import(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	loaded := time.Since(start)
	start = time.Now()
	if _, err := store.RefreshCatalogue(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE events; ANALYZE auditd.stream_catalogue`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d events in %s, catalogued %d streams in %s", n, loaded.Round(time.Second), n/10, time.Since(start).Round(time.Second))

	for _, c := range []struct {
		name string
		q    eventstore.StreamSearch
	}{
		{"prefix=wallet-00123", eventstore.StreamSearch{Prefix: "wallet-00123"}},
		{"match=DISPUTE", eventstore.StreamSearch{Match: "DISPUTE"}},
		{"match=12345", eventstore.StreamSearch{Match: "12345"}},
		{"match=nothing-like-it", eventstore.StreamSearch{Match: "nothing-like-it"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := store.SearchStreams(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if c.name != "match=nothing-like-it" && len(p.Streams) == 0 {
					b.Fatalf("%s found nothing", c.name)
				}
			}
		})
	}
}
