package ledger

import (
	"context"
	"time"
)

// DefaultBackdatedAfter is how far before its commit an event's recorded
// time may lie before it is flagged as back-dated.
const DefaultBackdatedAfter = 5 * time.Minute

// CommitTimes returns, by version, when each of a stream's events in
// [from, to] committed, as the consumer saw it commit. Back-filled entries
// are left out: they were read from the table, not seen committing, so
// they have no true commit time to hold a recorded time against.
func (s *Store) CommitTimes(ctx context.Context, streamID string, from, to int) (map[int]time.Time, error) {
	entries, err := s.StreamEntries(ctx, streamID, from, to)
	if err != nil {
		return nil, err
	}
	out := map[int]time.Time{}
	for _, e := range entries {
		if e.Backfilled || e.CommittedAt.IsZero() {
			continue
		}
		for _, ev := range e.Events {
			if ev.StreamID == streamID && ev.Version >= from && ev.Version <= to {
				out[ev.Version] = e.CommittedAt
			}
		}
	}
	return out, nil
}

// Backdated returns how long before its commit an event was recorded, when
// that is more than threshold (a writer that sets its own recorded_at far
// in the past), else 0. A recorded time after the commit, or within the
// threshold (clock skew between the writer and the server, a long
// transaction), is not flagged.
func Backdated(recordedAt, committedAt time.Time, threshold time.Duration) time.Duration {
	if committedAt.IsZero() || recordedAt.IsZero() {
		return 0
	}
	if d := committedAt.Sub(recordedAt); d > threshold {
		return d
	}
	return 0
}
