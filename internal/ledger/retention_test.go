package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPruneKeepsTheChainVerifiable prunes the entries older than the
// retention: an anchor records the range and the last pruned hash, the
// chain that remains verifies from it, the stream's and the store's
// verifications report the range as pruned (intact, not broken), and the
// ledger still refuses any other deletion.
func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	evs := appendEvents(t, b, "acct", 12)
	canon := canonicalHashes(t, b)
	old, recent := time.Now().Add(-48*time.Hour), time.Now()
	var lsn uint64 = 0x1000
	for i, ev := range evs {
		lsn += 0x100
		at := recent
		if i < 8 {
			at = old
		}
		e := Entry{CommitLSN: lsn, Xid: int64(i), CommittedAt: at, Events: []Event{{Position: ev.Position, StreamID: "acct", Version: ev.Version, Hash: canon[ev.Position]}}}
		if err := b.writer.Submit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if !b.writer.WaitWritten(ctx) {
		t.Fatal("not written")
	}
	an, err := b.store.Prune(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || an == nil {
		t.Fatalf("Prune = %+v, %v", an, err)
	}
	if an.Entries != 8 || an.Events != 8 || an.MaxPosition != evs[7].Position || an.FromLSN != "0/1100" || an.UptoLSN != "0/1800" {
		t.Fatalf("anchor: %+v", an)
	}
	if an, err := b.store.Prune(ctx, time.Now().Add(-24*time.Hour)); err != nil || an != nil {
		t.Fatalf("second Prune = %+v, %v; want nothing", an, err)
	}
	if n, err := b.store.VerifyChain(ctx); err != nil || n != 4 {
		t.Fatalf("VerifyChain after the prune = %d, %v; want the 4 kept entries", n, err)
	}
	if e, err := b.store.Entry(ctx, 0x1300); err != nil || e != nil {
		t.Fatalf("a pruned entry: %+v, %v; want none (a resume from it is a resync)", e, err)
	}
	v, err := b.store.VerifyStream(ctx, b.events, "acct")
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != StatusIntact || v.Checked != 4 || v.Pruned != 8 || len(v.Problems) != 0 {
		t.Fatalf("stream verification after the prune: %+v", v)
	}
	a := NewAuditor(b.store, b.events, AuditConfig{Every: -1})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	r := auditOnce(t, a)
	if r.Status != StatusIntact || r.EventsChecked != 4 || r.PrunedRows != 8 || len(r.Pruned) != 1 || r.Pruned[0].Entries != 8 {
		t.Fatalf("whole-store verification after the prune: %+v", r)
	}
	// Everything older than an hour from now: the newest entry stays, so
	// the chain goes on from a stored entry.
	if an, err := b.store.Prune(ctx, time.Now().Add(time.Hour)); err != nil || an == nil || an.Entries != 3 || an.MaxPosition != evs[10].Position {
		t.Fatalf("pruning all but the head: %+v, %v", an, err)
	}
	if n, err := b.store.VerifyChain(ctx); err != nil || n != 1 {
		t.Fatalf("VerifyChain = %d, %v; want the head", n, err)
	}
	for _, sql := range []string{`DELETE FROM auditd.ledger`, `DELETE FROM auditd.ledger_streams`, `DELETE FROM auditd.ledger_anchors`, `UPDATE auditd.ledger_anchors SET entries = 0`} {
		_, err := b.db.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("%s: %v, want restrict_violation", sql, err)
		}
	}
}
