package live

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/pgtest"
)

// decodeBenchLimit bounds one run of BenchmarkConsumerDecode.
const decodeBenchLimit = 5 * time.Minute

// BenchmarkConsumerDecode drains b.N pre-written events (ten per
// transaction) from a fresh slot through the decoder and the hub.
func BenchmarkConsumerDecode(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := context.Background()
	slot := testSlot()
	if _, err := db.Pool.Exec(ctx, `CREATE PUBLICATION auditd_events FOR TABLE events, projection_checkpoints`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot) })
	for i := 0; i < b.N; i += 10 {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
			SELECT 'd-' || $1::text, 'bench', g, 'FundsDeposited', jsonb_build_object('amount', g, 'ref', md5(g::text)), '{"actor": "bench"}'
			FROM generate_series(1, 10) g`, strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	var end pglogrepl.LSN
	if err := db.Pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&end); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	c := NewConsumer(ConsumerConfig{ConnString: db.ConnString, Slot: slot}, db.Pool, NewHub(HubConfig{}), nil)
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	// Polled, not waited on, because the consumer announces no LSN; every
	// millisecond, so the poll adds no more than that to a run. The
	// deadline turns a consumer that stalls into a failure, not a hang.
	deadline := time.Now().Add(decodeBenchLimit)
	for {
		lsn, _ := pglogrepl.ParseLSN(c.Stats().LastLSN)
		if lsn >= end {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the consumer reached %s of %s within %s (%d events decoded)", lsn, end, decodeBenchLimit, c.Stats().EventsTotal)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if got := c.Stats().EventsTotal; got < int64(b.N) {
		b.Fatalf("decoded %d events, want %d", got, b.N)
	}
}
