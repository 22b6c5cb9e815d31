package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// BenchmarkVerifyStream100k verifies a 100,000-event stream whose every
// event was its own transaction (the worst case: 100,000 entries to read
// through auditd.ledger_streams), in a ledger that also holds 100,000
// events of 1,000 other streams. docs/benchmarks.md has the figure.
func BenchmarkVerifyStream100k(b *testing.B) {
	db := pgtest.NewDB(b)
	ctx := b.Context()
	store, events := NewStore(db.Pool), eventstore.New(db.Pool)
	const n = 100_000
	now := time.Now()
	rows := make([]eventstore.Event, 0, 2*n)
	for i := range n {
		rows = append(rows, eventstore.Event{StreamID: "wallet-big", StreamType: "wallet", Version: i + 1, EventType: "Deposited",
			Payload: []byte(fmt.Sprintf(`{"amount": %d, "note": "deposit"}`, i)), Metadata: []byte(`{"actor": "alice"}`), RecordedAt: now},
			eventstore.Event{StreamID: fmt.Sprintf("wallet-%04d", i%1000), StreamType: "wallet", Version: i/1000 + 1, EventType: "Deposited",
				Payload: []byte(`{"amount": 1}`), RecordedAt: now})
	}
	if _, err := events.Import(ctx, rows); err != nil {
		b.Fatal(err)
	}
	w := NewWriter(WriterConfig{Batch: 1000, MaxQueued: 4 * n}, store)
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var lsn uint64 = 0x1000
	err := events.ScanCanonical(ctx, "", 0, 0, nil, func(e *eventstore.CanonicalEvent) error {
		var version int
		fmt.Sscan(string(e.Version), &version)
		lsn += 0x80
		return w.Submit(ctx, Entry{CommitLSN: lsn, Xid: e.Position, CommittedAt: now,
			Events: []Event{{Position: e.Position, StreamID: string(e.StreamID), Version: version, Hash: HashEvent(e)}}})
	})
	if err != nil {
		b.Fatal(err)
	}
	if !w.WaitWritten(ctx) {
		b.Fatal("not written")
	}
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE auditd.ledger, auditd.ledger_streams, events`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		v, err := store.VerifyStream(ctx, events, "wallet-big")
		if err != nil {
			b.Fatal(err)
		}
		if v.Status != StatusIntact || v.Checked != n {
			b.Fatalf("verification: %s, %d checked, want intact and %d", v.Status, v.Checked, n)
		}
	}
}
