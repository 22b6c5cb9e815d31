package livebench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// writes is what the writers committed: each event's position and the time
// its INSERT returned.
type writes struct {
	committed map[int64]time.Time
	elapsed   time.Duration // from the first write to the last writer's end
}

// write runs Writers connections, each writing one event per transaction to
// a stream of its own, paced so that together they write Rate events per
// second for Duration.
func (b *bench) write(ctx context.Context) (writes, error) {
	perWriter := make([]map[int64]time.Time, b.Writers)
	interval := time.Duration(float64(b.Writers) / b.Rate * float64(time.Second))
	t0 := time.Now()
	deadline := t0.Add(b.Duration)
	// Streams of their own per run: a second run (with the ledger) must
	// not append to the first one's versions.
	b.runs++
	var wg sync.WaitGroup
	errs := make(chan error, b.Writers)
	for w := range b.Writers {
		perWriter[w] = map[int64]time.Time{}
		// Stagger the writers across one interval.
		first := t0.Add(interval * time.Duration(w) / time.Duration(b.Writers))
		wg.Go(func() {
			if err := b.writer(ctx, fmt.Sprintf("live-%d-%d-%d", os.Getpid(), b.runs, w), first, interval, deadline, perWriter[w]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	ws := writes{committed: map[int64]time.Time{}, elapsed: time.Since(t0)}
	close(errs)
	if err := <-errs; err != nil {
		return ws, fmt.Errorf("bench live: writer: %w", err)
	}
	for _, m := range perWriter {
		for p, t := range m {
			ws.committed[p] = t
		}
	}
	return ws, nil
}

// writer appends to stream at first, first+interval, … until deadline on one
// connection, recording each commit's position and time in commits.
func (b *bench) writer(ctx context.Context, stream string, next time.Time, interval time.Duration, deadline time.Time, commits map[int64]time.Time) error {
	conn, err := b.db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for v := 1; next.Before(deadline); v++ {
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var pos int64
		err := conn.QueryRow(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
			VALUES ($1, 'bench', $2, 'FundsDeposited', '{"amount": 125.50, "currency": "EUR"}', '{"actor": "bench", "source": "bench-live"}')
			RETURNING position`, stream, v).Scan(&pos)
		if err != nil {
			return err
		}
		commits[pos] = time.Now()
		next = next.Add(interval)
	}
	return nil
}
