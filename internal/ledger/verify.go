package ledger

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/auditd/auditd/internal/eventstore"
)

// Verification statuses and problem kinds.
const (
	StatusIntact = "intact"
	StatusBroken = "broken"

	// ProblemChanged: the row's canonical form no longer hashes to what
	// the ledger witnessed.
	ProblemChanged = "changed"
	// ProblemMissing: the ledger witnessed the version; the table has no
	// such row any more.
	ProblemMissing = "missing"
	// ProblemUnwitnessed: the table has a row the ledger never saw commit
	// (below its high-water mark, so not merely not written yet).
	ProblemUnwitnessed = "unwitnessed"
)

// Problem is one event that does not match the ledger.
type Problem struct {
	Version  int    `json:"version"`
	Position int64  `json:"position"`
	Kind     string `json:"kind"`
}

// Verification is a stream's events checked against the ledger.
type Verification struct {
	StreamID string `json:"stream_id"`
	Status   string `json:"status"`
	// Checked counts the events whose hash matched.
	Checked int `json:"checked"`
	// FirstBrokenVersion is the lowest version with a problem (0: none).
	FirstBrokenVersion int       `json:"first_broken_version,omitempty"`
	Problems           []Problem `json:"problems"`
	// Pending counts events after the ledger's high-water mark: not
	// written to the ledger yet, so neither intact nor broken.
	Pending int `json:"pending"`
	// HighWater is the last event position the ledger holds.
	HighWater int64 `json:"high_water"`
}

// maxProblems bounds what one verification lists; Status and
// FirstBrokenVersion still count every event.
const maxProblems = 1000

// VerifyStream recomputes the hash of each of a stream's events from the
// table (eventstore.ScanStreamCanonical) and compares it with what the
// ledger witnessed. The ledger has no index by stream: it reads every
// entry, a sequential scan of about 90 bytes per event.
func (s *Store) VerifyStream(ctx context.Context, events *eventstore.Store, streamID string) (Verification, error) {
	v := Verification{StreamID: streamID, Status: StatusIntact, Problems: []Problem{}}
	witnessed := map[int]Event{}
	var after uint64
	for {
		entries, err := s.Entries(ctx, after, 1000)
		if err != nil {
			return v, err
		}
		for _, e := range entries {
			after = e.CommitLSN
			for _, ev := range e.Events {
				v.HighWater = max(v.HighWater, ev.Position)
				if ev.StreamID == streamID {
					witnessed[ev.Version] = ev
				}
			}
		}
		if len(entries) < 1000 {
			break
		}
	}
	var problems []Problem
	err := events.ScanStreamCanonical(ctx, streamID, func(e *eventstore.CanonicalEvent) error {
		version, err := strconv.Atoi(string(e.Version))
		if err != nil {
			return fmt.Errorf("ledger: event %d: bad version %q", e.Position, e.Version)
		}
		w, ok := witnessed[version]
		delete(witnessed, version)
		switch {
		case !ok && e.Position > v.HighWater:
			v.Pending++
		case !ok || w.Position != e.Position:
			problems = append(problems, Problem{Version: version, Position: e.Position, Kind: ProblemUnwitnessed})
		case w.Hash != HashEvent(e):
			problems = append(problems, Problem{Version: version, Position: e.Position, Kind: ProblemChanged})
		default:
			v.Checked++
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	for version, w := range witnessed {
		problems = append(problems, Problem{Version: version, Position: w.Position, Kind: ProblemMissing})
	}
	slices.SortFunc(problems, func(a, b Problem) int { return a.Version - b.Version })
	if len(problems) > 0 {
		v.Status, v.FirstBrokenVersion = StatusBroken, problems[0].Version
		v.Problems = problems[:min(len(problems), maxProblems)]
	}
	return v, nil
}
