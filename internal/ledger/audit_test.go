package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/pgtest"
)

// witness submits one entry per event given, hashed from the table.
func witness(t *testing.T, b *bundle, lsn *uint64, positions ...int64) {
	t.Helper()
	canon := canonicalHashes(t, b)
	evs, err := b.events.EventsAt(t.Context(), positions)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		*lsn += 0x100
		e := Entry{CommitLSN: *lsn, Xid: ev.Position, CommittedAt: time.Now(),
			Events: []Event{{Position: ev.Position, StreamID: ev.StreamID, Version: ev.Version, Hash: canon[ev.Position]}}}
		if err := b.writer.Submit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	if !b.writer.WaitWritten(t.Context()) {
		t.Fatal("not written")
	}
}

// auditOnce runs a whole-store verification through RunNow and waits for
// its report.
func auditOnce(t *testing.T, a *Auditor) AuditReport {
	t.Helper()
	if !a.RunNow() {
		t.Fatal("RunNow refused with nothing running")
	}
	if a.RunNow() {
		t.Fatal("RunNow started a second run beside the first")
	}
	var r AuditReport
	pgtest.WaitFor(t, "the verification to finish", 30*time.Second, func(context.Context) (bool, error) {
		r = a.Report()
		return !r.Running, nil
	})
	if r.Error != "" {
		t.Fatalf("verification failed: %s", r.Error)
	}
	return r
}

// TestAuditorFindsEveryKindOfBreak verifies the whole store intact, then
// after an edited payload, a deleted row, a row the ledger never saw and
// an edited ledger entry (each with its trigger disabled): broken, each
// problem named, and the tamper alert callback called.
func TestAuditorFindsEveryKindOfBreak(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var lsn uint64 = 0x1000
	a1 := appendEvents(t, b, "acct", 4)
	a2 := appendEvents(t, b, "other", 3)
	witness(t, b, &lsn, a1[0].Position, a1[1].Position, a1[2].Position, a1[3].Position, a2[0].Position, a2[2].Position)
	pendingRow := appendEvents(t, b, "acct", 1)[0] // above the high-water mark: pending

	broken := make(chan AuditReport, 1)
	a := NewAuditor(b.store, b.events, AuditConfig{Every: -1, OnBroken: func(_ context.Context, r AuditReport) error {
		broken <- r
		return nil
	}})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	r := auditOnce(t, a)
	// a2[1] lies below the high-water mark and was never witnessed.
	if r.Status != StatusBroken || r.ProblemCount != 1 || r.Problems[0].Kind != ProblemUnwitnessed || r.Problems[0].Position != a2[1].Position ||
		r.Problems[0].StreamID != "other" || r.Problems[0].Version != 2 {
		t.Fatalf("with one unwitnessed row: %+v", r)
	}
	if r.EntriesChecked != 6 || r.EventsChecked != 6 || r.Pending != 1 || r.Percent != 100 || r.AlertLSN == "" {
		t.Fatalf("counts: %+v (pending row %d)", r, pendingRow.Position)
	}
	<-broken

	// The unwitnessed row witnessed late (a later entry): intact.
	witness(t, b, &lsn, a2[1].Position, pendingRow.Position)
	if r := auditOnce(t, a); r.Status != StatusIntact || r.ProblemCount != 0 || r.EventsChecked != 8 || r.Pending != 0 {
		t.Fatalf("intact: %+v", r)
	}

	if _, err := b.db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable;
		UPDATE events SET payload = '{"amount": 1000000}' WHERE stream_id = 'acct' AND version = 2;
		DELETE FROM events WHERE stream_id = 'other' AND version = 3;
		ALTER TABLE events ENABLE TRIGGER events_immutable;
		ALTER TABLE auditd.ledger DISABLE TRIGGER ledger_immutable;
		UPDATE auditd.ledger SET xid = xid + 1 WHERE commit_lsn = (SELECT commit_lsn FROM auditd.ledger ORDER BY commit_lsn OFFSET 4 LIMIT 1);
		ALTER TABLE auditd.ledger ENABLE TRIGGER ledger_immutable`); err != nil {
		t.Fatal(err)
	}
	r = auditOnce(t, a)
	kinds := map[string]AuditProblem{}
	for _, p := range r.Problems {
		kinds[p.Kind] = p
	}
	if r.Status != StatusBroken || r.ProblemCount != 3 || kinds[ProblemChanged].Version != 2 || kinds[ProblemChanged].StreamID != "acct" ||
		kinds[ProblemMissing].StreamID != "other" || kinds[ProblemMissing].Version != 3 || kinds[ProblemChain].CommitLSN == "" {
		t.Fatalf("after the edits: %+v", r)
	}
	alert := <-broken
	if alert.AlertLSN != kinds[ProblemChanged].CommitLSN {
		t.Fatalf("alert keyed by %s, want the first broken entry %s", alert.AlertLSN, kinds[ProblemChanged].CommitLSN)
	}
}

func TestBackdatedThreshold(t *testing.T) {
	t.Parallel()
	commit := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		recorded time.Time
		want     time.Duration
	}{
		{commit.Add(-3 * time.Hour), 3 * time.Hour},
		{commit.Add(-5 * time.Minute), 0}, // at the threshold: clock skew, not flagged
		{commit.Add(-5*time.Minute - time.Second), 5*time.Minute + time.Second},
		{commit.Add(time.Minute), 0}, // recorded after the commit (a skewed clock)
	} {
		if got := Backdated(c.recorded, commit, DefaultBackdatedAfter); got != c.want {
			t.Errorf("recorded %s before: %s, want %s", commit.Sub(c.recorded), got, c.want)
		}
	}
	if got := Backdated(commit.Add(-time.Hour), time.Time{}, DefaultBackdatedAfter); got != 0 {
		t.Errorf("without a commit time (back-filled): %s, want 0", got)
	}
}
