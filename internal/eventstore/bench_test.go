package eventstore_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// Benchmarks for docs/benchmarks.md. Run:
//   go test ./internal/eventstore -run '^$' -bench . -benchtime 2s

func benchEvents(n int) []eventstore.NewEvent {
	out := make([]eventstore.NewEvent, n)
	for i := range out {
		out[i] = eventstore.NewEvent{EventType: "MoneyDeposited",
			Payload:  json.RawMessage(fmt.Sprintf(`{"amount":%d.25,"source":"bank-transfer"}`, i)),
			Metadata: json.RawMessage(`{"actor":"customer:bench","source":"payments-api","correlation_id":"c"}`)}
	}
	return out
}

// BenchmarkAppendSingle is one event per transaction: the latency an API
// call that appends one event pays.
func BenchmarkAppendSingle(b *testing.B) {
	store, _ := setup(b)
	ctx := b.Context()
	evs := benchEvents(1)
	v := 0
	b.ResetTimer()
	for b.Loop() {
		if _, err := store.Append(ctx, "bench-single", "Wallet", v, evs...); err != nil {
			b.Fatal(err)
		}
		v++
	}
}

// BenchmarkAppendBatch100 appends 100 events per call (one multi-row insert).
func BenchmarkAppendBatch100(b *testing.B) {
	store, _ := setup(b)
	ctx := b.Context()
	evs := benchEvents(100)
	v := 0
	for b.Loop() {
		if _, err := store.Append(ctx, "bench-batch", "Wallet", v, evs...); err != nil {
			b.Fatal(err)
		}
		v += 100
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkImport10000 bulk-loads with COPY (the demo seeder's path).
func BenchmarkImport10000(b *testing.B) {
	store, _ := setup(b)
	ctx := b.Context()
	round := 0
	for b.Loop() {
		batch := make([]eventstore.Event, 10000)
		for i := range batch {
			batch[i] = eventstore.Event{StreamID: fmt.Sprintf("imp-%d-%d", round, i/10), StreamType: "Wallet", Version: i%10 + 1,
				EventType: "MoneyDeposited", Payload: json.RawMessage(`{"amount":1.25}`), RecordedAt: time.Now()}
		}
		if _, err := store.Import(ctx, batch); err != nil {
			b.Fatal(err)
		}
		round++
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadStreamPage reads a 50-event page deep in a 100,000-event
// stream, and the first page, in the same run (the ratio shows keyset
// pagination costs the same at any depth).
func BenchmarkReadStreamPage(b *testing.B) {
	store, _ := setup(b)
	ctx := b.Context()
	const n = 100000
	batch := make([]eventstore.Event, 0, 10000)
	for v := 1; v <= n; v++ {
		batch = append(batch, eventstore.Event{StreamID: "deep", StreamType: "Wallet", Version: v, EventType: "MoneyDeposited",
			Payload: json.RawMessage(`{"amount":1.25}`), RecordedAt: time.Now()})
		if len(batch) == cap(batch) {
			if _, err := store.Import(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, after := range []int{0, n - 100} {
		b.Run(fmt.Sprintf("after=%d", after), func(b *testing.B) {
			for b.Loop() {
				evs, err := store.ReadStream(ctx, eventstore.StreamQuery{StreamID: "deep", After: after, Limit: 50})
				if err != nil || len(evs) != 50 {
					b.Fatal(err, len(evs))
				}
			}
		})
	}
}
