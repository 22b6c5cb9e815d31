package projections

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// BenchmarkOverview computes every panel (head, 20 checkpoints with their
// oldest unprocessed event, recent samples, slots) on a small and a large
// store in the same run: the cost must not grow with the number of events.
// The large size is 1M events (AUDITD_PROJ_BENCH_EVENTS overrides it).
func BenchmarkOverview(b *testing.B) {
	large := 1_000_000
	if v := os.Getenv("AUDITD_PROJ_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10_000 {
			b.Fatalf("AUDITD_PROJ_BENCH_EVENTS=%q: want a number >= 10000", v)
		}
		large = n
	}
	for _, n := range []int{10_000, large} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			mon := loadBench(b, n, 20)
			b.ResetTimer()
			for b.Loop() {
				if _, err := mon.Overview(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loadBench fills a fresh database with n events (streams of 10) and
// projections checkpoints spread over the log, and 10 minutes of samples.
func loadBench(b *testing.B, n, projections int) *Monitor {
	b.Helper()
	db := pgtest.NewDB(b)
	store := eventstore.New(db.Pool)
	start := time.Now().Add(-time.Duration(n) * time.Millisecond)
	const batch = 50_000
	for off := 0; off < n; off += batch {
		events := make([]eventstore.Event, 0, min(batch, n-off))
		for i := off; i < min(off+batch, n); i++ {
			payload, _ := json.Marshal(map[string]int{"n": i})
			events = append(events, eventstore.Event{
				StreamID: fmt.Sprintf("s-%d", i/10), StreamType: "Thing", Version: i%10 + 1,
				EventType: "Happened", Payload: payload, RecordedAt: start.Add(time.Duration(i) * time.Millisecond),
			})
		}
		if _, err := store.Import(b.Context(), events); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(b.Context(), `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	for i := range projections {
		pos := int64(n) - int64(i)*int64(n)/int64(projections)
		if _, err := db.Pool.Exec(b.Context(), `INSERT INTO projection_checkpoints (projection, position) VALUES ($1, $2)`, fmt.Sprintf("p%02d", i), pos); err != nil {
			b.Fatal(err)
		}
	}
	c := &clock{t: time.Now().Add(-10 * time.Minute)}
	mon := NewMonitor(db.Pool, nil, Options{Clock: c.Now})
	s := NewSampler(mon, nil, 5*time.Second, 24*time.Hour)
	for range 120 { // 10 minutes at 5 s
		if _, err := s.SampleOnce(b.Context()); err != nil {
			b.Fatal(err)
		}
		c.Set(c.Now().Add(5 * time.Second))
	}
	return NewMonitor(db.Pool, nil, Options{})
}
