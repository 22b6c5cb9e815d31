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
	// Pruned counts events in ranges removed by retention
	// (--ledger-retention): neither intact nor broken.
	Pruned int `json:"pruned"`
}

// maxProblems bounds what one verification lists; Status and
// FirstBrokenVersion still count every event.
const maxProblems = 1000

// VerifyStream recomputes the hash of each of a stream's events from the
// table (eventstore.ScanStreamCanonical) and compares it with what the
// ledger witnessed. It reads only the stream's entries, through
// auditd.ledger_streams, at the same time as the table's rows (two
// connections), so a 100,000-event stream takes the longer of the two
// reads rather than their sum.
func (s *Store) VerifyStream(ctx context.Context, events *eventstore.Store, streamID string) (Verification, error) {
	v := Verification{StreamID: streamID, Status: StatusIntact, Problems: []Problem{}}
	type ledgerRead struct {
		witnessed map[int]Event
		highWater int64
		pruned    int64
		err       error
	}
	done := make(chan ledgerRead, 1)
	go func() {
		var r ledgerRead
		// The entries before the high-water mark and the pruned ranges: a
		// prune in between then counts as pruned, never as unwitnessed.
		if r.witnessed, r.err = s.streamWitnessed(ctx, streamID); r.err == nil {
			r.highWater, r.pruned, r.err = s.highWater(ctx)
		}
		done <- r
	}()
	type row struct {
		version  int
		position int64
		hash     Hash
	}
	var rows []row
	err := events.ScanStreamCanonical(ctx, streamID, func(e *eventstore.CanonicalEvent) error {
		version, err := strconv.Atoi(string(e.Version))
		if err != nil {
			return fmt.Errorf("ledger: event %d: bad version %q", e.Position, e.Version)
		}
		rows = append(rows, row{version, e.Position, HashEvent(e)})
		return nil
	})
	r := <-done
	if err != nil {
		return v, err
	}
	if r.err != nil {
		return v, r.err
	}
	v.HighWater = r.highWater
	witnessed := r.witnessed
	var problems []Problem
	for _, e := range rows {
		w, ok := witnessed[e.version]
		delete(witnessed, e.version)
		switch {
		case !ok && e.position > v.HighWater:
			v.Pending++
		case !ok && e.position <= r.pruned:
			v.Pruned++
		case !ok || w.Position != e.position:
			problems = append(problems, Problem{Version: e.version, Position: e.position, Kind: ProblemUnwitnessed})
		case w.Hash != e.hash:
			problems = append(problems, Problem{Version: e.version, Position: e.position, Kind: ProblemChanged})
		default:
			v.Checked++
		}
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

// streamWitnessed returns the stream's events as the ledger witnessed
// them, by version. Only the packed events are read, in no order: a map
// needs none.
func (s *Store) streamWitnessed(ctx context.Context, streamID string) (map[int]Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.events FROM auditd.ledger l
		WHERE l.commit_lsn IN (SELECT s.commit_lsn FROM auditd.ledger_streams s WHERE s.stream_id = $1)`, streamID)
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the entries of %q: %w", streamID, err)
	}
	defer rows.Close()
	witnessed := map[int]Event{}
	var packed []byte
	for rows.Next() {
		if err := rows.Scan(&packed); err != nil {
			return nil, fmt.Errorf("ledger: unable to scan an entry: %w", err)
		}
		evs, err := Unpack(packed)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if ev.StreamID == streamID {
				witnessed[ev.Version] = ev
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: unable to read the entries of %q: %w", streamID, err)
	}
	return witnessed, nil
}

// highWaterEntries is how many of the newest entries highWater reads:
// positions are taken at insert and entries are in commit order, so the
// highest position is among the last few entries unless a transaction
// stayed open across this many others.
const highWaterEntries = 256

// highWater returns the highest event position the ledger has seen (the
// newest entries' and the pruned ranges') and the pruned ranges' own.
func (s *Store) highWater(ctx context.Context) (hw, pruned int64, err error) {
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(max_position), 0) FROM auditd.ledger_anchors`).Scan(&pruned); err != nil {
		return 0, 0, fmt.Errorf("ledger: unable to read the pruned ranges: %w", err)
	}
	hw, err = s.maxPosition(ctx, `(SELECT events FROM auditd.ledger ORDER BY commit_lsn DESC LIMIT $1)`, highWaterEntries)
	if err != nil {
		return 0, 0, fmt.Errorf("ledger: unable to read the high-water mark: %w", err)
	}
	return max(hw, pruned), pruned, nil
}
