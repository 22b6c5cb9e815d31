package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func countTotal(t *testing.T, s *eventstore.Store) (events, streams int64) {
	t.Helper()
	cs, err := s.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		events += c.Events
		streams += c.Streams
	}
	return events, streams
}

// The counter counts a mapped table with nothing attached to it, and a
// transaction that took a lower position before the head was seen, and
// commits after, is still counted.
func TestCountsOnAMappedTableWithoutTrigger(t *testing.T) {
	t.Parallel()
	s := mappedStore(t, pgtest.Seed000SQL+`
		INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES
		('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'Opened', '{}', 1),
		('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'Deposited', '{}', 2);`, pgtest.Seed000Mapping)
	ctx := t.Context()
	var triggers int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname = 'auditd_count_events'`).Scan(&triggers); err != nil || triggers != 0 {
		t.Fatalf("counting triggers: %d (%v), want none", triggers, err)
	}
	if e, st := countTotal(t, s); e != 2 || st != 1 {
		t.Fatalf("before any round: %d events, %d streams", e, st)
	}
	// A writer takes position 3 and stays open while another commits 4.
	slow, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Rollback(ctx) }()
	if _, err := slow.Exec(ctx, `INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ('0a4e2c9b-1f3d-4e5a-9b6c-7d8e9f0a1b2c', 'Opened', '{}', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ('7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10', 'Withdrawn', '{}', 3)`); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.FoldCounts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var position int64
	if err := s.Pool().QueryRow(ctx, `SELECT position FROM auditd.event_count_progress`).Scan(&position); err != nil || position >= 3 {
		t.Errorf("counted up to %d (%v) while position 3 is being written", position, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions on the cluster hold the xmin back for a
	// while: rounds go on until it passes.
	pgtest.WaitFor(t, "the counter to reach position 4", 30*time.Second, func(ctx context.Context) (bool, error) {
		if _, err := s.FoldCounts(ctx); err != nil {
			return false, err
		}
		err := s.Pool().QueryRow(ctx, `SELECT position FROM auditd.event_count_progress`).Scan(&position)
		return position == 4, err
	})
	var folded int64
	if err := s.Pool().QueryRow(ctx, `SELECT sum(events) FROM auditd.event_counts`).Scan(&folded); err != nil || folded != 4 {
		t.Errorf("folded %d events (%v), want 4", folded, err)
	}
	if e, st := countTotal(t, s); e != 4 || st != 2 {
		t.Errorf("after the rounds: %d events, %d streams; want 4, 2", e, st)
	}
}
