package timetravel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// StepFunc sees one event of a walk, the state after it (owned by the walk:
// read it, do not keep it) and what the event changed; false stops the walk.
type StepFunc func(ev *eventstore.Event, st *State, changes []Change) bool

// Walk folds the events of a stream after the state from (left as it is) up
// to version to, one event at a time through Folder.Step, calling fn with
// each; it reads at most maxEvents events (<= 0: no bound). It returns the
// version it stopped after, which a caller pages on. This is the one fold
// the field history and the diff's "events in between" go through, so they
// agree with the state pages.
func (s *Service) Walk(ctx context.Context, info eventstore.StreamInfo, from *State, to, maxEvents int, fn StepFunc) (int, error) {
	st := from.Clone()
	if st == nil {
		st = NewState(info.StreamID, info.StreamType)
	}
	read := 0
	for after := st.Version; after < to; {
		limit := eventstore.MaxPageSize
		if maxEvents > 0 {
			limit = min(limit, maxEvents-read)
		}
		if limit <= 0 {
			break
		}
		events, err := s.store.ReadStream(ctx, eventstore.StreamQuery{
			StreamID: info.StreamID, After: after, MaxVersion: to, Limit: limit,
		})
		if err != nil {
			return st.Version, fmt.Errorf("timetravel: unable to fold stream %q: %w", info.StreamID, err)
		}
		if len(events) == 0 {
			break
		}
		read += len(events)
		s.eventsFolded.Add(int64(len(events)))
		for i := range events {
			changes := s.folder.Step(st, &events[i])
			if !fn(&events[i], st, changes) {
				return st.Version, nil
			}
		}
		after = events[len(events)-1].Version
	}
	return st.Version, nil
}

// FieldPoint is one value a field took: after the event at Version (or, for
// the first point of a page that does not start at the stream's beginning,
// the value it had there). Present is false when the event removed it.
type FieldPoint struct {
	Version    int
	RecordedAt time.Time
	Value      any
	Present    bool
	EventType  string
	Actor      string
	Source     string
	Position   int64
	// Carried: the value the field already had where the page starts,
	// not a change made by this event.
	Carried bool
}

// FieldHistory is one page of a field's history.
type FieldHistory struct {
	Path   string
	Points []FieldPoint
	// From and Through are the versions the page covers: (From, Through].
	From, Through int
	// More: the stream goes on after Through (the next page starts there).
	More bool
}

// ErrInvalidField wraps a field path that is not an RFC 6901 pointer to a
// member (the root is the whole state, not a field).
var ErrInvalidField = errors.New("timetravel: invalid field path")

// FieldHistoryOf walks the stream's events after version after (the state
// there comes from a snapshot, so a page deep in a 100,000-event stream
// costs one interval of folding to start) and lists every value path took,
// from the events that changed it, an ancestor of it or anything under it.
// It reads at most maxEvents events and keeps at most maxPoints points, so
// a page is bounded however long the stream; More says whether to go on.
func (s *Service) FieldHistoryOf(ctx context.Context, info eventstore.StreamInfo, path string, after, maxEvents, maxPoints int) (*FieldHistory, error) {
	ptr, err := ParsePointer(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidField, err)
	}
	if ptr.IsRoot() {
		return nil, fmt.Errorf("%w: %q is the whole state; name a field such as /balance", ErrInvalidField, path)
	}
	after = max(0, min(after, info.Version))
	start, err := s.stateAtVersion(ctx, info, after)
	if err != nil {
		return nil, err
	}
	h := &FieldHistory{Path: path, From: after, Through: after}
	if after > 0 {
		if v, err := ptr.Get(start.Data); err == nil {
			b := start.Blame[path]
			h.Points = append(h.Points, FieldPoint{Version: after, RecordedAt: start.At, Value: deepCopy(v), Present: true,
				EventType: b.EventType, Actor: b.Actor, Source: b.Source, Position: b.Position, Carried: true})
		}
	}
	through, err := s.Walk(ctx, info, start, info.Version, maxEvents, func(ev *eventstore.Event, st *State, changes []Change) bool {
		if !touches(changes, path) {
			return true
		}
		p := FieldPoint{Version: st.Version, RecordedAt: st.At, EventType: ev.EventType, Position: ev.Position}
		if len(changes) > 0 {
			p.Actor, p.Source = changes[0].Actor, changes[0].Source
		}
		if v, err := ptr.Get(st.Data); err == nil {
			p.Value, p.Present = deepCopy(v), true
		}
		h.Points = append(h.Points, p)
		return len(h.Points) < maxPoints || maxPoints <= 0
	})
	if err != nil {
		return nil, err
	}
	h.Through = through
	h.More = through < info.Version
	return h, nil
}

// touches reports whether a change is at path, above it or below it.
func touches(changes []Change, path string) bool {
	for _, ch := range changes {
		if ch.Path == path || strings.HasPrefix(ch.Path, path+"/") || strings.HasPrefix(path, ch.Path+"/") {
			return true
		}
	}
	return false
}
