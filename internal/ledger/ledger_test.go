package ledger

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	db     *pgtest.DB
	store  *Store
	events *eventstore.Store
	writer *Writer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	b := &bundle{db: db, store: NewStore(db.Pool), events: eventstore.New(db.Pool)}
	b.writer = NewWriter(WriterConfig{Batch: 64}, b.store)
	if err := b.writer.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.writer.Stop)
	return b
}

func TestPackRoundTrip(t *testing.T) {
	t.Parallel()
	events := []Event{
		{Position: 1, StreamID: "wallet-00001", Version: 1, Hash: Hash{1}},
		{Position: 2, StreamID: "wallet-00001", Version: 2, Hash: Hash{2}},
		{Position: 1 << 40, StreamID: "feerun-2026-11-23", Version: 70000, Hash: Hash{3, 4}},
		{Position: 9, StreamID: "wallet-00001", Version: 3, Hash: Hash{5}},
	}
	b := Pack(events)
	got, err := Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(events) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, events)
	}
	// A repeated stream costs one byte, not its id again.
	if one, two := len(Pack(events[:1])), len(Pack(events[:2])); two-one != 1+1+1+HashSize {
		t.Fatalf("second event of the same stream took %d bytes", two-one)
	}
	for i := range b {
		if _, err := Unpack(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Unpack of %d of %d bytes = %v, want ErrCorrupt", i, len(b), err)
		}
	}
	if _, err := Unpack(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
}

// appendEvents appends n events to stream in one transaction.
func appendEvents(t *testing.T, b *bundle, stream string, n int) []eventstore.Event {
	t.Helper()
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{EventType: "Deposited", Payload: []byte(fmt.Sprintf(`{"amount": %d.50, "note": "é\n\"x\""}`, i)),
			Metadata: []byte(`{"actor": "alice", "correlation_id": "c-1"}`)}
	}
	out, err := b.events.Append(t.Context(), stream, "wallet", eventstore.AnyVersion, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canonicalHashes hashes the table's rows as verification reads them.
func canonicalHashes(t *testing.T, b *bundle) map[int64]Hash {
	t.Helper()
	out := map[int64]Hash{}
	if err := b.events.ScanCanonical(t.Context(), "", 0, 0, nil, func(e *eventstore.CanonicalEvent) error {
		out[e.Position] = HashEvent(e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriterChainsEntriesInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	hashes := map[int64]Hash{}
	var lsn uint64 = 0x1000
	for tx := range 200 {
		evs := appendEvents(t, b, fmt.Sprintf("wallet-%05d", tx%7), 1+tx%4)
		canon := canonicalHashes(t, b)
		e := Entry{CommitLSN: lsn, Xid: int64(700 + tx), CommittedAt: time.Now()}
		for _, ev := range evs {
			e.Events = append(e.Events, Event{Position: ev.Position, StreamID: ev.StreamID, Version: ev.Version, Hash: canon[ev.Position]})
			hashes[ev.Position] = canon[ev.Position]
		}
		if err := b.writer.Submit(ctx, e); err != nil {
			t.Fatal(err)
		}
		// A re-sent transaction is dropped.
		if err := b.writer.Submit(ctx, e); err != nil {
			t.Fatal(err)
		}
		lsn += 0x100
	}
	if !b.writer.WaitWritten(ctx) {
		t.Fatal("entries not written")
	}
	if got := b.writer.Confirmable(lsn + 5); got != lsn+5 {
		t.Fatalf("Confirmable with nothing queued = %X, want %X", got, lsn+5)
	}
	n, err := b.store.VerifyChain(ctx)
	if err != nil || n != 200 {
		t.Fatalf("VerifyChain = %d, %v; want 200 entries", n, err)
	}
	entries, err := b.store.Entries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, e := range entries {
		if i > 0 && e.CommitLSN <= entries[i-1].CommitLSN {
			t.Fatalf("entries out of commit order at %d", i)
		}
		for _, ev := range e.Events {
			if hashes[ev.Position] != ev.Hash {
				t.Fatalf("event %d: stored hash differs", ev.Position)
			}
			seen++
		}
	}
	if seen != len(hashes) {
		t.Fatalf("ledger lists %d events, %d appended", seen, len(hashes))
	}

	// A new writer continues the chain from the stored head.
	w2 := NewWriter(WriterConfig{}, b.store)
	b.writer.Stop()
	if err := w2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if err := w2.Submit(ctx, entries[3]); err != nil { // re-sent: dropped
		t.Fatal(err)
	}
	if err := w2.Submit(ctx, Entry{CommitLSN: lsn, Xid: 1, CommittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if !w2.WaitWritten(ctx) {
		t.Fatal("not written")
	}
	if n, err := b.store.VerifyChain(ctx); err != nil || n != 201 {
		t.Fatalf("VerifyChain after restart = %d, %v", n, err)
	}
}

func TestHashChangesWithEveryField(t *testing.T) {
	t.Parallel()
	base := eventstore.CanonicalEvent{StreamID: []byte("s"), Version: []byte("1"), EventType: []byte("T"), SchemaVersion: []byte("1"),
		Payload: []byte(`{"a": 1}`), Metadata: []byte(`{}`), RecordedAt: []byte("2026-11-23 15:31:32.123456+00")}
	h := HashEvent(&base)
	fields := []*[]byte{&base.StreamID, &base.Version, &base.EventType, &base.SchemaVersion, &base.Payload, &base.Metadata, &base.RecordedAt}
	for i, f := range fields {
		old := *f
		*f = append([]byte{}, old...)
		(*f)[0] ^= 1
		if HashEvent(&base) == h {
			t.Errorf("field %d does not change the hash", i)
		}
		*f = old
	}
	// Length prefixes: moving a byte from one field to the next is a change.
	moved := base
	moved.StreamID, moved.Version = []byte("s1"), []byte("")
	if HashEvent(&moved) == h {
		t.Error("field boundaries are not part of the hash")
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	if err := b.writer.Submit(ctx, Entry{CommitLSN: 0x2000, Xid: 1, CommittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if !b.writer.WaitWritten(ctx) {
		t.Fatal("not written")
	}
	for _, sql := range []string{
		`UPDATE auditd.ledger SET xid = 2`,
		`DELETE FROM auditd.ledger`,
		`TRUNCATE auditd.ledger`,
	} {
		_, err := b.db.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("%s: got %v, want restrict_violation", sql, err)
		}
	}
	if n, err := b.store.VerifyChain(ctx); err != nil || n != 1 {
		t.Fatalf("VerifyChain = %d, %v", n, err)
	}
}

// TestLedgerBytesPerEvent measures the ledger's size on disk (table, TOAST
// and index) per event for a mix of transaction sizes like the demo's
// (most appends write one to four events of one stream) and states it in
// docs/benchmarks.md.
func TestLedgerBytesPerEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	const txs = 10000
	events := 0
	var lsn uint64 = 0x10000
	for i := range txs {
		n := []int{1, 1, 2, 3, 4, 1, 2, 8}[i%8]
		e := Entry{CommitLSN: lsn, Xid: int64(i + 1000), CommittedAt: time.Now()}
		for j := range n {
			e.Events = append(e.Events, Event{Position: int64(events + 1), StreamID: fmt.Sprintf("wallet-%05d", i%5000), Version: 1 + i/5000 + j, Hash: Hash{byte(i), byte(j)}})
			events++
		}
		if err := b.writer.Submit(ctx, e); err != nil {
			t.Fatal(err)
		}
		lsn += 0x200
	}
	if !b.writer.WaitWritten(ctx) {
		t.Fatal("not written")
	}
	// LSNs of several widths: the chain is read in LSN order, not text order.
	if n, err := b.store.VerifyChain(ctx); err != nil || n != txs {
		t.Fatalf("VerifyChain = %d, %v", n, err)
	}
	if _, err := b.db.Pool.Exec(ctx, `VACUUM ANALYZE auditd.ledger`); err != nil {
		t.Fatal(err)
	}
	var bytes int64
	if err := b.db.Pool.QueryRow(ctx, `SELECT pg_total_relation_size('auditd.ledger')`).Scan(&bytes); err != nil {
		t.Fatal(err)
	}
	per := float64(bytes) / float64(events)
	t.Logf("ledger: %d transactions, %d events, %d bytes on disk: %.1f bytes per event, %.1f per transaction", txs, events, bytes, per, float64(bytes)/txs)
	if per > 100 {
		t.Errorf("%.1f bytes per event, want at most 100", per)
	}
	// The by-stream index is a second cost, stated beside it.
	if _, err := b.db.Pool.Exec(ctx, `VACUUM ANALYZE auditd.ledger_streams`); err != nil {
		t.Fatal(err)
	}
	var index int64
	if err := b.db.Pool.QueryRow(ctx, `SELECT pg_total_relation_size('auditd.ledger_streams')`).Scan(&index); err != nil {
		t.Fatal(err)
	}
	t.Logf("ledger_streams: %d bytes: %.1f bytes per event, %.1f per transaction; with the ledger %.1f bytes per event",
		index, float64(index)/float64(events), float64(index)/txs, float64(bytes+index)/float64(events))
}

// TestReindexFillsTheStreamIndex: a ledger written before
// auditd.ledger_streams existed is indexed when a writer starts, and a
// stream's entries are then found through it.
func TestReindexFillsTheStreamIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var lsn uint64 = 0x1000
	for i := range 30 {
		lsn += 0x100
		e := Entry{CommitLSN: lsn, Xid: int64(i), CommittedAt: time.Now(), Events: []Event{
			{Position: int64(2*i + 1), StreamID: fmt.Sprintf("s-%d", i%3), Version: i/3 + 1},
			{Position: int64(2*i + 2), StreamID: "t", Version: i + 1}}}
		if err := b.writer.Submit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if !b.writer.WaitWritten(ctx) {
		t.Fatal("not written")
	}
	b.writer.Stop()
	// As before migration 009: no index rows.
	if _, err := b.db.Pool.Exec(ctx, `ALTER TABLE auditd.ledger_streams DISABLE TRIGGER ledger_streams_immutable;
		DELETE FROM auditd.ledger_streams;
		ALTER TABLE auditd.ledger_streams ENABLE TRIGGER ledger_streams_immutable`); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(WriterConfig{}, b.store)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var rows int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM auditd.ledger_streams`).Scan(&rows); err != nil || rows != 60 {
		t.Fatalf("index rows after reindex = %d, %v; want 60 (two streams per entry)", rows, err)
	}
	got, err := b.store.StreamEntries(ctx, "s-1", 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Events[0].Version != 3 || got[1].Events[0].Version != 4 {
		t.Fatalf("entries of s-1 versions 3..4: %+v", got)
	}
	if n, err := b.store.Reindex(ctx); err != nil || n != 0 {
		t.Fatalf("second Reindex = %d, %v; want nothing to do", n, err)
	}
}
