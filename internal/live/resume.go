package live

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
)

// Resume fills what the hub's window no longer holds from the witness
// ledger (which transactions committed, in commit order, and their events'
// positions) and the table (the events), so that a cursor hours old, or
// one taken before PostgreSQL and auditd restarted, resumes exactly.
type Resume struct {
	hub    *Hub
	store  *ledger.Store
	writer *ledger.Writer
	events *eventstore.Store
}

// NewResume returns a Resume for hub's feed.
func NewResume(hub *Hub, store *ledger.Store, writer *ledger.Writer, events *eventstore.Store) *Resume {
	return &Resume{hub: hub, store: store, writer: writer, events: events}
}

// ErrUnknownCursor is returned for a cursor no ledger entry has: one from
// another database, older than the ledger, or made up.
var ErrUnknownCursor = errors.New("live: the cursor is not in the ledger")

// resumePage is how many ledger entries one read covers.
const resumePage = 500

// floorWait bounds the wait for the ledger to reach the window's floor
// (it lags the hub by a batch).
const floorWait = 5 * time.Second

// Subscribe subscribes after a cursor the window no longer reaches: the
// subscription starts at the window's floor, and Fill sends what lies
// between. It returns ErrUnknownCursor when the ledger does not know the
// cursor.
func (r *Resume) Subscribe(ctx context.Context, f Filter, after Cursor) (*Subscription, *Gap, error) {
	e, err := r.store.Entry(ctx, after.LSN)
	if err != nil {
		return nil, nil, err
	}
	if e == nil || e.Backfilled || int(after.Index) >= len(e.Events) {
		return nil, nil, ErrUnknownCursor
	}
	sub, floor, err := r.hub.SubscribeAtFloor(f)
	if err != nil {
		return nil, nil, err
	}
	// A floor the hub evicted is a transaction it published: the ledger
	// gets it within a batch. The floor where the slot resumed (index
	// MaxUint32) is confirmed, so already written.
	if floor.Index != math.MaxUint32 {
		wctx, cancel := context.WithTimeout(ctx, floorWait)
		defer cancel()
		for r.writer.Durable() < floor.LSN {
			if !r.writer.WaitWritten(wctx) || wctx.Err() != nil {
				sub.Close()
				return nil, nil, fmt.Errorf("live: the ledger has not reached the window's floor %s", floor)
			}
		}
	}
	return sub, &Gap{r: r, filter: f, after: after, upTo: floor}, nil
}

// Gap is the events after a cursor up to the window's floor.
type Gap struct {
	r      *Resume
	filter Filter
	after  Cursor
	upTo   Cursor
}

// Fill calls send with the gap's matching events, a ledger page at a
// time, in commit order.
func (g *Gap) Fill(ctx context.Context, send func([]*Message) error) error {
	lsn := g.after.LSN - 1 // the cursor's own entry first: it may have events after the cursor
	now := time.Now()
	for {
		entries, err := g.r.store.Entries(ctx, lsn, resumePage)
		if err != nil {
			return err
		}
		var positions []int64
		type slot struct {
			c   Cursor
			pos int64
		}
		var slots []slot
		last := len(entries) < resumePage // no page after this one
		past := false                     // reached the floor
		for _, e := range entries {
			lsn = e.CommitLSN
			if e.Backfilled {
				continue
			}
			for i, ev := range e.Events {
				c := Cursor{LSN: e.CommitLSN, Index: uint32(i)}
				if !g.after.Less(c) {
					continue
				}
				if g.upTo.Less(c) {
					past = true
					break
				}
				if g.filter.StreamID != "" && g.filter.StreamID != ev.StreamID {
					continue
				}
				slots = append(slots, slot{c, ev.Position})
				positions = append(positions, ev.Position)
			}
			if past {
				break
			}
		}
		if len(positions) > 0 {
			events, err := g.r.events.EventsAt(ctx, positions)
			if err != nil {
				return err
			}
			byPos := make(map[int64]*eventstore.Event, len(events))
			for i := range events {
				byPos[events[i].Position] = &events[i]
			}
			msgs := make([]*Message, 0, len(slots))
			for _, s := range slots {
				// A row the table no longer has (deleted with the
				// trigger disabled) is the verify page's business; the
				// feed sends what is there.
				if ev := byPos[s.pos]; ev != nil && g.filter.match(ev) {
					msgs = append(msgs, g.r.hub.newMessage(s.c, *ev, now))
				}
			}
			if err := send(msgs); err != nil {
				return err
			}
		}
		if last || past {
			return nil
		}
	}
}
