package timetravel

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
)

// DefaultSnapshotEvery is how often (in versions) a fold writes a snapshot
// when ServiceOptions.SnapshotEvery is zero. A state at any moment then
// folds at most this many events after one snapshot read.
const DefaultSnapshotEvery = 250

// DefaultMaxSnapshotBytes bounds one snapshot: a state this large is cheaper
// to fold again than to store a hundred times over.
const DefaultMaxSnapshotBytes = 16 << 20

// ErrInvalidPoint is returned for a Point with a negative version.
var ErrInvalidPoint = errors.New("timetravel: invalid point in time")

// ServiceOptions tune a Service.
type ServiceOptions struct {
	// SnapshotEvery writes a snapshot whenever a fold passes a multiple of
	// this version. Zero means DefaultSnapshotEvery; a negative value turns
	// snapshots off entirely (neither read nor written).
	SnapshotEvery int
	// MaxSnapshotBytes skips snapshots whose encoding is larger (zero:
	// DefaultMaxSnapshotBytes).
	MaxSnapshotBytes int
	// SnapshotPool is where auditd.snapshots lives when auditd's own
	// schema is not in the event store's database (nil: the store's pool).
	SnapshotPool *pgxpool.Pool
}

// Point is a moment of a stream: a version, a time, or (the zero Point) the
// latest state. Which one is kept apart from the value, so that version 0
// (before the first event) and the zero time (0001-01-01T00:00:00Z, before
// any stream) are moments like any other rather than "the latest".
type Point struct {
	kind    pointKind
	version int
	at      time.Time
}

type pointKind uint8

const (
	pointLatest pointKind = iota
	pointVersion
	pointTime
)

// Latest is the Point of the stream's newest state (the zero Point).
func Latest() Point { return Point{} }

// AtVersion is the Point after all events with version <= v: v = 0 is
// before the first event, and a version past the stream's head is the
// latest state.
func AtVersion(v int) Point { return Point{kind: pointVersion, version: v} }

// AtTime is the Point after all events recorded at or before t, whatever t
// is: a time older than the stream is before its first event.
func AtTime(t time.Time) Point { return Point{kind: pointTime, at: t} }

// IsLatest reports whether p is the latest state (the zero Point).
func (p Point) IsLatest() bool { return p.kind == pointLatest }

// String is the point as the diff form writes it: v:N, an RFC 3339 time or
// "latest".
func (p Point) String() string {
	switch p.kind {
	case pointTime:
		return p.at.UTC().Format(time.RFC3339Nano)
	case pointVersion:
		return fmt.Sprintf("v:%d", p.version)
	}
	return "latest"
}

func (p Point) validate() error {
	if p.kind == pointVersion && p.version < 0 {
		return fmt.Errorf("%w: negative version %d", ErrInvalidPoint, p.version)
	}
	return nil
}

// BeforeFirstEvent reports whether st is the empty state of a stream before
// its first event (a time point older than the stream): pages label it so
// that an empty state is not mistaken for an aggregate with no fields.
func (st *State) BeforeFirstEvent() bool { return st != nil && st.Version == 0 }

// ServiceStats count what the service did since it was built, for tests and
// diagnostics.
type ServiceStats struct {
	EventsFolded     int64 // events read from the store and folded
	SnapshotsLoaded  int64 // folds that started from a snapshot
	SnapshotsWritten int64 // snapshot rows inserted
}

// Service answers "what was the state of this stream at that moment" from
// the event store, folding with one reducer configuration and caching
// states as snapshots in auditd.snapshots. It is safe for concurrent use.
type Service struct {
	store       *eventstore.Store
	snapshots   snapshotStore
	folder      *Folder
	fingerprint string
	every       int
	maxBytes    int
	logger      *slog.Logger

	eventsFolded     atomic.Int64
	snapshotsLoaded  atomic.Int64
	snapshotsWritten atomic.Int64
}

// NewService returns a Service reading store and folding with cfg (nil:
// DefaultConfig, merge patches only).
func NewService(store *eventstore.Store, cfg *Config, logger *slog.Logger, opts ServiceOptions) *Service {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.SnapshotEvery == 0 {
		opts.SnapshotEvery = DefaultSnapshotEvery
	}
	if opts.MaxSnapshotBytes <= 0 {
		opts.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	return &Service{
		store:       store,
		snapshots:   snapshotStore{pool: cmp.Or(opts.SnapshotPool, store.Pool())},
		folder:      NewFolder(cfg),
		fingerprint: snapshotKey(cfg, store),
		every:       opts.SnapshotEvery,
		maxBytes:    opts.MaxSnapshotBytes,
		logger:      logger,
	}
}

// Folder is the folder the service folds with, for callers that step
// through events themselves (timelines, exports).
func (s *Service) Folder() *Folder { return s.folder }

// snapshotKey is what snapshots are keyed by: the reducer configuration's
// fingerprint, combined with the source mapping's when the store reads an
// application's table, so that changing either invalidates them.
func snapshotKey(cfg *Config, store *eventstore.Store) string {
	fp := cfg.Fingerprint()
	if src := store.SourceFingerprint(); src != "" {
		sum := sha256.Sum256([]byte(fp + "\x00" + src))
		fp = hex.EncodeToString(sum[:])
	}
	return fp
}

// Fingerprint is the snapshots' key: the reducer configuration's
// fingerprint, and the source mapping's if any (snapshotKey).
func (s *Service) Fingerprint() string { return s.fingerprint }

// SnapshotEvery is the snapshot interval in versions (negative: snapshots
// off).
func (s *Service) SnapshotEvery() int { return s.every }

// Stats returns the service's counters.
func (s *Service) Stats() ServiceStats {
	return ServiceStats{
		EventsFolded:     s.eventsFolded.Load(),
		SnapshotsLoaded:  s.snapshotsLoaded.Load(),
		SnapshotsWritten: s.snapshotsWritten.Load(),
	}
}

// StateAt returns the state of a stream at p: after all events up to its
// version or recorded up to its time, or all events for the latest. A time before the stream's first event gives the empty
// state with Version 0 (see State.BeforeFirstEvent). An unknown stream is
// eventstore.ErrStreamNotFound.
func (s *Service) StateAt(ctx context.Context, streamID string, p Point) (*State, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	info, err := s.store.Stream(ctx, streamID)
	if err != nil {
		return nil, err
	}
	return s.StateOf(ctx, info, p)
}

// StateOf is StateAt for a caller that already read the stream's summary
// (pages do, for their header): it saves that query.
func (s *Service) StateOf(ctx context.Context, info eventstore.StreamInfo, p Point) (*State, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	target, err := s.resolve(ctx, info, p)
	if err != nil {
		return nil, err
	}
	return s.stateAtVersion(ctx, info, target)
}

// VersionOf resolves p to the version of the stream's state at p (0 before
// the first event).
func (s *Service) VersionOf(ctx context.Context, info eventstore.StreamInfo, p Point) (int, error) {
	if err := p.validate(); err != nil {
		return 0, err
	}
	return s.resolve(ctx, info, p)
}

// resolve turns a point into a version of the stream. A time is resolved
// through the (stream_id, recorded_at) index, so time points and version
// points share one snapshot lookup by version.
func (s *Service) resolve(ctx context.Context, info eventstore.StreamInfo, p Point) (int, error) {
	switch p.kind {
	case pointTime:
		v, err := s.store.VersionAt(ctx, info.StreamID, p.at)
		if err != nil {
			return 0, fmt.Errorf("timetravel: %w", err)
		}
		return min(v, info.Version), nil
	case pointVersion:
		return min(p.version, info.Version), nil
	}
	return info.Version, nil
}

// stateAtVersion loads the newest snapshot at or before target and folds
// the events after it, a keyset page at a time. Every multiple of
// SnapshotEvery the fold passes is written as a snapshot, all in one
// statement at the end, so the first fold of a 100,000-event stream leaves
// ~100 snapshots behind for the next request.
func (s *Service) stateAtVersion(ctx context.Context, info eventstore.StreamInfo, target int) (*State, error) {
	st := NewState(info.StreamID, info.StreamType)
	if target <= 0 {
		return st, nil
	}
	if s.every > 0 {
		snap, err := s.snapshots.latest(ctx, info.StreamID, s.fingerprint, target)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil:
			// A cache that cannot be read is a slower answer, not a wrong one.
			s.logger.Warn("timetravel: snapshot ignored", "stream_id", info.StreamID, "error", err)
		case snap != nil && snap.StreamID == info.StreamID:
			st = snap
			s.snapshotsLoaded.Add(1)
		}
	}
	var pending []snapshotRow
	pendingBytes := 0
	from := st.Version
	for after := st.Version; after < target; {
		events, err := s.store.ReadStream(ctx, eventstore.StreamQuery{
			StreamID: info.StreamID, After: after, MaxVersion: target, Limit: eventstore.MaxPageSize,
		})
		if err != nil {
			return nil, fmt.Errorf("timetravel: unable to fold stream %q: %w", info.StreamID, err)
		}
		if len(events) == 0 {
			break
		}
		for i := range events {
			s.folder.Apply(st, &events[i])
			if s.every > 0 && st.Version > from && st.Version%s.every == 0 {
				if row, ok := s.snapshotOf(st); ok {
					pending = append(pending, row)
					pendingBytes += len(row.state)
				}
			}
		}
		s.eventsFolded.Add(int64(len(events)))
		after = events[len(events)-1].Version
		// Bound the memory a long first fold holds in encoded snapshots.
		if pendingBytes > 4*s.maxBytes {
			s.saveSnapshots(ctx, info.StreamID, pending)
			pending, pendingBytes = nil, 0
		}
	}
	s.saveSnapshots(ctx, info.StreamID, pending)
	return st, nil
}

// WarmSnapshots folds a stream whose newest event has version head up to
// the last snapshot multiple at or before it, from the newest snapshot
// there is, so that the snapshots a reader's fold would write are already
// written. It returns that version: a later read of any state up to head
// folds at most head minus it (less than SnapshotEvery) events. It returns
// 0 with snapshots off or for a stream shorter than one interval; when the
// snapshot at the version exists it costs one probe.
func (s *Service) WarmSnapshots(ctx context.Context, streamID, streamType string, head int) (int, error) {
	if s.every <= 0 || head < s.every {
		return 0, nil
	}
	target := head / s.every * s.every
	info := eventstore.StreamInfo{StreamID: streamID, StreamType: streamType, Version: head}
	if _, err := s.stateAtVersion(ctx, info, target); err != nil {
		return 0, err
	}
	return target, nil
}

// snapshotOf encodes st for the snapshot table, unless it is too large.
func (s *Service) snapshotOf(st *State) (snapshotRow, bool) {
	data, err := st.MarshalSnapshot()
	if err != nil {
		s.logger.Warn("timetravel: unable to encode snapshot", "stream_id", st.StreamID, "version", st.Version, "error", err)
		return snapshotRow{}, false
	}
	if len(data) > s.maxBytes {
		s.logger.Debug("timetravel: state too large to snapshot", "stream_id", st.StreamID, "version", st.Version, "bytes", len(data))
		return snapshotRow{}, false
	}
	return snapshotRow{version: st.Version, recordedAt: st.At, state: data}, true
}

// saveSnapshots writes rows; a failure only costs a later request a longer
// fold, so it is logged, not returned.
func (s *Service) saveSnapshots(ctx context.Context, streamID string, rows []snapshotRow) {
	if len(rows) == 0 {
		return
	}
	n, err := s.snapshots.save(ctx, streamID, s.fingerprint, rows)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("timetravel: unable to write snapshots", "stream_id", streamID, "count", len(rows), "error", err)
		}
		return
	}
	s.snapshotsWritten.Add(n)
}

// DiffBetween returns the states at from and to and the changes from one to
// the other, each attributed to the last event in between that touched it.
func (s *Service) DiffBetween(ctx context.Context, streamID string, from, to Point) (fromState, toState *State, changes []Change, err error) {
	if err := from.validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("from: %w", err)
	}
	if err := to.validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("to: %w", err)
	}
	info, err := s.store.Stream(ctx, streamID)
	if err != nil {
		return nil, nil, nil, err
	}
	return s.DiffOf(ctx, info, from, to)
}

// DiffOf is DiffBetween for a caller that already read the stream's summary.
func (s *Service) DiffOf(ctx context.Context, info eventstore.StreamInfo, from, to Point) (fromState, toState *State, changes []Change, err error) {
	if fromState, err = s.StateOf(ctx, info, from); err != nil {
		return nil, nil, nil, err
	}
	if toState, err = s.StateOf(ctx, info, to); err != nil {
		return nil, nil, nil, err
	}
	if changes, err = s.Changes(ctx, info, fromState, toState); err != nil {
		return nil, nil, nil, err
	}
	return fromState, toState, changes, nil
}

// Changes is the diff from one state of the stream to another (Diff), with
// a backward diff (from later than to) credited right: each change goes to
// the first event after to that changed its path, the event whose undoing
// brings to's value back. A forward diff credits the last event, the one
// whose result is the new value; the later state's history alone cannot
// name the first, so a backward diff folds the events in between again.
func (s *Service) Changes(ctx context.Context, info eventstore.StreamInfo, from, to *State) ([]Change, error) {
	changes := Diff(from, to)
	if from == nil || to == nil || from.Version <= to.Version || len(changes) == 0 {
		return changes, nil
	}
	// exact: the first event that changed a path itself; within: the first
	// that changed a path or anything under it.
	exact, within := map[string]Change{}, map[string]Change{}
	st := to.Clone()
	for after := st.Version; after < from.Version; {
		events, err := s.store.ReadStream(ctx, eventstore.StreamQuery{
			StreamID: info.StreamID, After: after, MaxVersion: from.Version, Limit: eventstore.MaxPageSize,
		})
		if err != nil {
			return nil, fmt.Errorf("timetravel: unable to fold stream %q: %w", info.StreamID, err)
		}
		if len(events) == 0 {
			break
		}
		for i := range events {
			for _, ch := range s.folder.Step(st, &events[i]) {
				if _, ok := exact[ch.Path]; !ok {
					exact[ch.Path] = ch
				}
				// Once a path is in within, so are all its ancestors.
				for p := ch.Path; p != ""; p = parentPointer(p) {
					if _, ok := within[p]; ok {
						break
					}
					within[p] = ch
				}
			}
		}
		s.eventsFolded.Add(int64(len(events)))
		after = events[len(events)-1].Version
	}
	for i := range changes {
		c := &changes[i]
		first, ok := within[c.Path]
		for p := parentPointer(c.Path); p != ""; p = parentPointer(p) {
			if a, has := exact[p]; has && (!ok || a.Version < first.Version) {
				first, ok = a, true
			}
		}
		if ok {
			c.Version, c.EventType, c.Actor, c.Source, c.RecordedAt = first.Version, first.EventType, first.Actor, first.Source, first.RecordedAt
		}
	}
	return changes, nil
}

// PruneSnapshots deletes the snapshots folded with any other reducer
// configuration and returns how many went. Snapshots are keyed by the
// configuration's fingerprint, so after a change of reducers the old ones
// are never read again and only take space; auditd prunes them at start-up.
// Two instances sharing a database with different reducers would delete
// each other's, which costs folding time, never a wrong state.
func (s *Service) PruneSnapshots(ctx context.Context) (int64, error) {
	return s.snapshots.pruneOtherThan(ctx, s.fingerprint)
}
