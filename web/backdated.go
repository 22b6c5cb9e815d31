package web

import (
	"context"

	"github.com/auditd/auditd/internal/ledger"
)

// markBackdated flags the steps (events of one stream) whose recorded
// time lies more than the threshold before their commit, as the witness
// ledger saw it. Events the ledger did not see committing (back-filled,
// or not written yet) are not flagged: they have no commit time to hold
// the recorded time against.
func (s *Server) markBackdated(ctx context.Context, streamID string, steps []eventStep) error {
	if s.deps.Ledger == nil || len(steps) == 0 {
		return nil
	}
	from, to := steps[0].event.Version, steps[len(steps)-1].event.Version
	times, err := s.deps.Ledger.CommitTimes(ctx, streamID, min(from, to), max(from, to))
	if err != nil {
		return err
	}
	threshold := s.deps.BackdatedAfter
	if threshold <= 0 {
		threshold = ledger.DefaultBackdatedAfter
	}
	for i := range steps {
		e := steps[i].event
		steps[i].backdated = ledger.Backdated(e.RecordedAt, times[e.Version], threshold)
	}
	return nil
}
