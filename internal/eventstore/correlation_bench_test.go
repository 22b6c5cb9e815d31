package eventstore_test

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
)

// recursiveEffects is the effects walk as it was before the walk went level
// by level: one recursive CTE. Kept here only as the baseline of
// BenchmarkEffects.
const recursiveEffects = `
	WITH RECURSIVE down AS (
		SELECT c.position AS position, c.event_id AS event_id, 1 AS depth
		FROM events c
		WHERE c.metadata ? 'causation_id' AND c.metadata->>'causation_id' = $1
		UNION ALL
		SELECT c.position, c.event_id, down.depth + 1
		FROM down JOIN events c
		  ON c.metadata ? 'causation_id' AND c.metadata->>'causation_id' = down.event_id::text
		WHERE down.depth < $2
	)
	SELECT e.position, e.event_id::text, d.depth
	FROM (SELECT position, min(depth) AS depth FROM (SELECT * FROM down LIMIT $3) l GROUP BY position) d
	JOIN events e ON e.position = d.position
	ORDER BY d.depth, e.position`

// chainID is the event id of the n-th event of causationStore.
func chainID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// causationStore loads n events (AUDITD_CAUSATION_BENCH_EVENTS, default
// 200,000) shaped like the demo's: streams of 100 events, every three events
// a chain (a command's event caused the next two, one after the other) with
// its own correlation id, and one fee run whose first event caused the
// store's last 1,000 events.
func causationStore(b *testing.B) (*eventstore.Store, *pgtest.DB) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("AUDITD_CAUSATION_BENCH_EVENTS")); err == nil && v >= 3_000 {
		n = v
	}
	store, db := setup(b)
	ctx := b.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	batch := make([]eventstore.Event, 0, 20_000)
	for i := range n {
		meta := `{"actor":"customer:bench","correlation_id":"corr-` + strconv.Itoa(i/3) + `"`
		switch {
		case i >= n-1_000:
			meta = `{"actor":"job:fees","correlation_id":"fee-run","causation_id":"` + chainID(0) + `"`
		case i%3 != 0:
			meta += `,"causation_id":"` + chainID(i-1) + `"`
		}
		batch = append(batch, eventstore.Event{EventID: chainID(i), StreamID: fmt.Sprintf("wallet-%05d", i/100),
			StreamType: "Wallet", Version: i%100 + 1, EventType: "MoneyDeposited",
			Payload:  json.RawMessage(`{"amount":` + strconv.Itoa(i%1000) + `.25}`),
			Metadata: json.RawMessage(meta + "}"), RecordedAt: t0.Add(time.Duration(i) * time.Second)})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := store.Import(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d events in %s", n, time.Since(start).Round(time.Second))
	return store, db
}

// BenchmarkEffects compares, on the same store in the same run, the
// recursive CTE the effects walk used to be with Store.Effects (one
// statement per level), for an event without effects (most events), the
// head of a two-level chain and a fee run of 1,000 effects (capped at
// MaxCausedEvents). Run it with:
//
//	go test ./internal/eventstore -run '^$' -bench BenchmarkEffects -benchtime 100x
func BenchmarkEffects(b *testing.B) {
	store, db := causationStore(b)
	ctx := b.Context()
	cases := []struct {
		name  string
		n     int
		count int
	}{{"leaf", 30_002, 0}, {"chain", 30_000, 2}, {"fanout", 0, eventstore.MaxCausedEvents}}
	for _, c := range cases {
		ev, err := store.EventByID(ctx, chainID(c.n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/recursive-cte", func(b *testing.B) {
			for b.Loop() {
				if got := countRows(ctx, b, db, ev.EventID); got != c.count {
					b.Fatalf("%d effects, want %d", got, c.count)
				}
			}
		})
		b.Run(c.name+"/levels", func(b *testing.B) {
			for b.Loop() {
				down, err := store.Effects(ctx, &ev, 0)
				if err != nil || len(down) != c.count {
					b.Fatalf("%d effects, want %d: %v", len(down), c.count, err)
				}
			}
		})
	}
}

func countRows(ctx context.Context, b *testing.B, db *pgtest.DB, eventID string) int {
	rows, err := db.Pool.Query(ctx, recursiveEffects, eventID, eventstore.MaxCausationDepth, eventstore.MaxCausedEvents)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
