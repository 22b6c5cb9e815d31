package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/timetravel"
)

// Builder makes evidence bundles from the table, the time-travel service
// and the witness ledger.
type Builder struct {
	Store       *eventstore.Store
	Ledger      *ledger.Store
	TimeTravel  *timetravel.Service
	Checkpoints *ledger.Checkpointer
}

// Window is what a bundle is asked for: a stream between two points.
type Window struct {
	Info     eventstore.StreamInfo
	From, To timetravel.Point
	// FromText and ToText are the points as asked for (v:N or a time).
	FromText, ToText string
	URL              string
}

// ErrBackwards: the window's start is after its end.
var ErrBackwards = errors.New("evidence: from is later than to")

// ErrPending: an event of the window is not in the ledger yet.
var ErrPending = errors.New("evidence: the window's newest events are not in the witness ledger yet")

// Build writes the signed bundle of the window to w and returns the query
// it answered. Events come from the table as PostgreSQL prints them
// (stored values, unmasked), so that their hashes recompute; the states
// from the one time-travel service; the entries and their proof from the
// ledger's checkpoints (a new one is signed when the window ends after
// the latest).
func (b *Builder) Build(ctx context.Context, w io.Writer, win Window, viewer Viewer, now time.Time) (Query, error) {
	info := win.Info
	q := Query{StreamID: info.StreamID, StreamType: info.StreamType, From: win.FromText, To: win.ToText, URL: win.URL,
		Reducers: b.TimeTravel.Folder().Config().Fingerprint()}
	var err error
	if q.FromVersion, err = b.TimeTravel.VersionOf(ctx, info, win.From); err != nil {
		return q, err
	}
	if q.ToVersion, err = b.TimeTravel.VersionOf(ctx, info, win.To); err != nil {
		return q, err
	}
	if q.FromVersion > q.ToVersion {
		return q, fmt.Errorf("%w (v:%d after v:%d)", ErrBackwards, q.FromVersion, q.ToVersion)
	}
	bundle := Bundle{Query: q, Viewer: viewer, Events: []Event{}}
	for i, v := range []int{q.FromVersion, q.ToVersion} {
		st, err := b.TimeTravel.StateOf(ctx, info, timetravel.AtVersion(v))
		if err != nil {
			return q, err
		}
		s := State{Version: st.Version, At: st.At, Data: st.Data}
		if i == 0 {
			bundle.States.From = s
		} else {
			bundle.States.To = s
		}
	}
	err = b.Store.ScanStreamCanonical(ctx, info.StreamID, func(e *eventstore.CanonicalEvent) error {
		v, err := strconv.Atoi(string(e.Version))
		if err != nil || v <= q.FromVersion || v > q.ToVersion {
			return nil
		}
		bundle.Events = append(bundle.Events, Event{Position: e.Position, StreamID: string(e.StreamID), Version: string(e.Version),
			EventType: string(e.EventType), SchemaVersion: string(e.SchemaVersion), Payload: string(e.Payload),
			Metadata: string(e.Metadata), RecordedAt: string(e.RecordedAt)})
		return nil
	})
	if err != nil {
		return q, err
	}
	if bundle.Verification, err = b.Ledger.VerifyStream(ctx, b.Store, info.StreamID); err != nil {
		return q, err
	}
	// Refused before anything is signed: a window the ledger does not
	// hold yet would otherwise leave a checkpoint per attempt.
	for i := range bundle.Events {
		if ev := &bundle.Events[i]; ev.Position > bundle.Verification.HighWater {
			return q, fmt.Errorf("%w (v%s)", ErrPending, ev.Version)
		}
	}
	proof, err := b.Checkpoints.Prove(ctx, info.StreamID, q.FromVersion, q.ToVersion)
	if err != nil {
		return q, err
	}
	lsnOf := map[int64]uint64{}
	for i := range proof.Entries {
		e := &proof.Entries[i]
		bundle.Entries = append(bundle.Entries, EntryOf(e))
		for _, ev := range e.Events {
			if ev.StreamID == info.StreamID {
				lsnOf[ev.Position] = e.CommitLSN
			}
		}
	}
	for i := range bundle.Events {
		ev := &bundle.Events[i]
		// Unwitnessed events keep "": the bundle says so, and
		// verify-evidence reports them.
		if lsn, ok := lsnOf[ev.Position]; ok {
			ev.CommitLSN = pglogrepl.LSN(lsn).String()
		}
	}
	for i := range proof.Segments {
		bundle.Checkpoints = append(bundle.Checkpoints, CheckpointOf(&proof.Segments[i]))
	}
	if bundle.Entries == nil {
		bundle.Entries, bundle.Checkpoints = []Entry{}, []Checkpoint{}
	}
	return q, bundle.Write(w, ledger.KeyID(b.Checkpoints.PublicKey()), now, b.Checkpoints.Sign)
}
