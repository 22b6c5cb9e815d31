package ledger

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/eventstore"
)

// BackfillStats is a back-fill's progress.
type BackfillStats struct {
	Running bool    `json:"running"`
	Done    bool    `json:"done"`
	Events  int64   `json:"events"`   // back-filled so far
	At      int64   `json:"position"` // the last position back-filled
	Target  int64   `json:"target"`   // the last position to back-fill
	Percent float64 `json:"percent"`
	Error   string  `json:"error,omitempty"`
}

// Backfill fills the ledger from the table for the events committed before
// a replication slot existed: it reads, in the snapshot the slot exported,
// every event after the ledger's last position, in position order, and
// submits one back-filled entry per run of rows of one transaction (their
// commit order is not known, and not needed: the slot sends everything
// after). Entries count up from the ledger's head and must stay below
// below, the slot's consistent point, so that live entries follow them.
type Backfill struct {
	events *eventstore.Store
	store  *Store
	writer *Writer

	mu    sync.Mutex
	stats BackfillStats
}

// maxBackfillEntry bounds the events of one back-filled entry.
const maxBackfillEntry = 1000

// NewBackfill returns a back-fill writing through writer.
func NewBackfill(events *eventstore.Store, store *Store, writer *Writer) *Backfill {
	return &Backfill{events: events, store: store, writer: writer}
}

// Stats returns the back-fill's progress.
func (b *Backfill) Stats() BackfillStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Run back-fills in snapshot and waits until the ledger holds it all.
func (b *Backfill) Run(ctx context.Context, snapshot string, below uint64) error {
	err := b.run(ctx, snapshot, below)
	b.mu.Lock()
	b.stats.Running = false
	if err != nil {
		b.stats.Error = err.Error()
	} else {
		b.stats.Done, b.stats.Percent = true, 100
	}
	b.mu.Unlock()
	return err
}

func (b *Backfill) run(ctx context.Context, snapshot string, below uint64) error {
	after, err := b.store.LastPosition(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.stats = BackfillStats{Running: true, At: after}
	b.mu.Unlock()
	lsn := b.writer.lastAccepted()
	var cur *Entry
	flush := func() error {
		if cur == nil {
			return nil
		}
		if cur.CommitLSN >= below {
			return fmt.Errorf("ledger: back-fill entry %s would not precede the slot's start %s", pglogrepl.LSN(cur.CommitLSN), pglogrepl.LSN(below))
		}
		n := len(cur.Events)
		if err := b.writer.Submit(ctx, *cur); err != nil {
			return err
		}
		last := cur.Events[n-1].Position
		cur = nil
		b.mu.Lock()
		b.stats.Events += int64(n)
		b.stats.At = last
		if span := b.stats.Target - after; span > 0 {
			b.stats.Percent = 100 * float64(last-after) / float64(span)
		}
		b.mu.Unlock()
		return nil
	}
	err = b.events.ScanCanonical(ctx, snapshot, after, 0, func(last int64) {
		b.mu.Lock()
		b.stats.Target = last
		b.mu.Unlock()
	}, func(e *eventstore.CanonicalEvent) error {
		if cur != nil && (cur.Xid != e.Xmin || len(cur.Events) >= maxBackfillEntry) {
			if err := flush(); err != nil {
				return err
			}
		}
		if cur == nil {
			lsn++
			cur = &Entry{CommitLSN: lsn, Xid: e.Xmin, Backfilled: true}
		}
		version, err := strconv.Atoi(string(e.Version))
		if err != nil {
			return fmt.Errorf("ledger: event %d: %w", e.Position, err)
		}
		cur.Events = append(cur.Events, Event{Position: e.Position, StreamID: string(e.StreamID), Version: version, Hash: HashEvent(e)})
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("ledger: back-fill failed: %w", err)
	}
	if !b.writer.WaitWritten(ctx) {
		return fmt.Errorf("ledger: back-fill not written: %w", context.Cause(ctx))
	}
	return nil
}
