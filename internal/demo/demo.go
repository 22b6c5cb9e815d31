// Package demo builds auditd's demo world: a deterministic history of
// e-wallets, orders and nightly fee runs, with one dispute story that the
// documentation walks through, plus a live Generator that keeps appending
// realistic traffic so live features have something to show.
package demo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// Defaults of Options.
const (
	DefaultEvents    = 100_000
	DefaultBatchSize = 10_000
	// Span is how much history the world covers, from Options.Start.
	Span = 90 * 24 * time.Hour
	// OrderSchemaV2Day is the day (from Start) of the multi-currency
	// release: OrderPlaced is written with schema_version 1 before it and 2
	// from then on.
	OrderSchemaV2Day = 40
	// DisputeDay is the day (from Start) of the disputed fee.
	DisputeDay = 74
)

// DefaultStart is the first day of the default history. A fixed date, so a
// seed names one world for everyone (docs, tests, bug reports).
var DefaultStart = time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC)

// The dispute story: wallet DisputeWalletID (customer DisputeCustomer) lost
// 500.00 at 02:00:03 UTC on day DisputeDay to the nightly fee job, which
// charged a misconfigured "annual fee" and overdrew the wallet. At 08:12 the
// customer opened a dispute; at 10:41 agent DisputeAgent resolved it and
// refunded the money. The chain is linked by causation_id:
// FeeRunStarted → MoneyWithdrawn → DisputeOpened → DisputeResolved →
// MoneyDeposited. These ids are the same for every seed.
const (
	DisputeWalletID  = "wallet-dispute-0001"
	DisputeOwner     = "lucia.ferreira"
	DisputeCustomer  = "customer:lucia.ferreira"
	DisputeAgent     = "agent:m.okafor"
	DisputeJobActor  = "job:nightly-fees"
	DisputeJobSource = "batch:nightly-fees"
	DisputeID        = "dispute-0001"
	// DisputeAmount is the withdrawn (and refunded) amount as it appears in
	// the payload.
	DisputeAmount = "500.00"
	// DisputeBalanceBefore and DisputeBalanceAfter are the wallet's balance
	// just before and just after the fee.
	DisputeBalanceBefore = "340.00"
	DisputeBalanceAfter  = "-160.00"

	DisputeFeeRunEventID     = "0f5e7a11-fee0-4a00-8000-000000000001" // FeeRunStarted
	DisputeWithdrawalEventID = "0f5e7a11-fee0-4a00-8000-000000000500" // MoneyWithdrawn 500.00
	DisputeFeeRunDoneEventID = "0f5e7a11-fee0-4a00-8000-000000000002" // FeeRunCompleted
	DisputeOpenedEventID     = "d15b07e0-0001-4a00-8000-000000000001" // DisputeOpened
	DisputeResolvedEventID   = "d15b07e0-0001-4a00-8000-000000000002" // DisputeResolved
	DisputeRefundEventID     = "d15b07e0-0001-4a00-8000-000000000003" // MoneyDeposited (refund)
	// DisputeFeeRunCorrelationID correlates the whole fee run of that night;
	// DisputeCorrelationID the dispute case.
	DisputeFeeRunCorrelationID = "0f5e7a11-fee0-4a00-8000-00000000c0de"
	DisputeCorrelationID       = "d15b07e0-0001-4a00-8000-00000000c0de"
)

// Options selects a demo world. The same Options give the same events,
// event ids included.
type Options struct {
	Seed uint64
	// Events is the exact number of events generated (0: DefaultEvents).
	// It is raised to StoryEvents when smaller, so the dispute story is
	// always complete.
	Events int
	// Start is the first day of history (zero: DefaultStart); the time of
	// day is ignored. History covers Span from there.
	Start time.Time
	// BatchSize is the number of events per batch (0: DefaultBatchSize).
	BatchSize int
}

// StoryEvents is the number of events of the dispute story.
const StoryEvents = 13

func (o Options) withDefaults() Options {
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	o.Events = max(o.Events, StoryEvents)
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC().Truncate(24 * time.Hour)
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	return o
}

// DisputeTime is when the disputed 500.00 left the wallet: 02:00:03 UTC on
// day DisputeDay of o's history.
func (o Options) DisputeTime() time.Time {
	return o.withDefaults().Start.Add(DisputeDay*24*time.Hour + 2*time.Hour + 3*time.Second)
}

// Generate yields the world's events in batches of at most BatchSize, sorted
// by recorded_at, with stream versions assigned: ready for Store.Import.
// Batches are freshly allocated; the caller may keep them.
func Generate(opts Options) iter.Seq[[]eventstore.Event] {
	opts = opts.withDefaults()
	return func(yield func([]eventstore.Event) bool) {
		w := newWorld(opts.Seed)
		w.day0 = opts.Start
		w.end = opts.Start.Add(Span)
		w.v2From = opts.Start.Add(OrderSchemaV2Day * 24 * time.Hour)
		w.target = opts.Events
		w.walletTarget = max(12, opts.Events/60)
		w.out = make([]eventstore.Event, 0, min(opts.BatchSize, opts.Events))
		w.scheduleStory()
		for d := 1; d < int(Span/(24*time.Hour)); d++ {
			if d != DisputeDay {
				w.scheduleFeeRun(w.day0.Add(time.Duration(d)*24*time.Hour + 2*time.Hour))
			}
		}
		w.scheduleSpontaneous(w.day0.Add(6 * time.Hour))

		for w.emitted < w.target && w.tasks.Len() > 0 {
			t := heapPop(&w.tasks)
			// Near the end only the story may still emit: it is reserved
			// out of the target so that it is always complete.
			if !t.story && w.target-w.emitted <= w.storyLeft {
				continue
			}
			t.run(t.at)
			if len(w.out) >= opts.BatchSize {
				if !yield(w.out) {
					return
				}
				w.out = make([]eventstore.Event, 0, min(opts.BatchSize, w.target-w.emitted))
			}
		}
		if len(w.out) > 0 {
			yield(w.out)
		}
	}
}

// scheduleSpontaneous schedules the next customer-initiated action. The
// pace adapts so that the target is reached around the end of the span
// whatever the number of events.
func (w *world) scheduleSpontaneous(at time.Time) {
	w.schedule(at, false, func(at time.Time) {
		w.spontaneous(at)
		perAction := 1.8
		if w.spontCount > 50 {
			perAction = float64(w.emitted-(StoryEvents-w.storyLeft)) / float64(w.spontCount)
		}
		remaining := float64(w.target-w.emitted-w.storyLeft) / max(perAction, 1)
		mean := time.Second
		if left := w.end.Sub(at); left > 0 && remaining >= 1 {
			mean = time.Duration(float64(left) / remaining)
		}
		w.scheduleSpontaneous(at.Add(time.Duration(w.rng.ExpFloat64()*float64(mean)) + time.Millisecond))
	})
}

// scheduleStory schedules the dispute story's StoryEvents events.
func (w *world) scheduleStory() {
	wl := &wallet{id: DisputeWalletID, owner: DisputeOwner, currency: "EUR", feeDay: -1}
	w.storyWallet = wl
	w.storyLeft = StoryEvents
	day := func(d int, hh, mm, ss int) time.Time {
		return w.day0.Add(time.Duration(d)*24*time.Hour + time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss)*time.Second)
	}
	story := func(at time.Time, e func(at time.Time) evt, after func(id string)) {
		w.schedule(at, true, func(at time.Time) {
			w.storyLeft--
			ev := e(at)
			id, err := w.emit(ev)
			if err == nil && after != nil {
				after(id)
			}
		})
	}
	customer := func(src string) metadata {
		return metadata{CorrelationID: w.newID(), Actor: DisputeCustomer, Source: src}
	}
	move := func(d, hh, mm, ss int, typ string, amount Money, label string, md func() metadata) {
		story(day(d, hh, mm, ss), func(at time.Time) evt {
			if typ == EventMoneyDeposited {
				return walletEvt(at, wl, typ, moneyDeposited{Amount: amount, Source: label}, md())
			}
			return walletEvt(at, wl, typ, moneyWithdrawn{Amount: amount, Reason: label}, md())
		}, nil)
	}
	var openedID string
	story(day(1, 9, 14, 7), func(at time.Time) evt {
		return walletEvt(at, wl, EventWalletOpened, walletOpened{Owner: wl.owner, Currency: wl.currency}, customer("mobile-app"))
	}, func(id string) { openedID = id })
	move(1, 9, 16, 31, EventMoneyDeposited, 100000, "card", func() metadata {
		md := customer("mobile-app")
		md.CausationID = openedID
		return md
	})
	move(3, 18, 40, 12, EventMoneyWithdrawn, 12000, "atm", func() metadata { return customer("mobile-app") })
	move(12, 11, 2, 55, EventMoneyWithdrawn, 60000, "bill payment", func() metadata { return customer("web") })
	move(28, 6, 0, 0, EventMoneyDeposited, 145000, "salary", func() metadata {
		return metadata{CorrelationID: w.newID(), Actor: "job:bank-sync", Source: "payments-api"}
	})
	move(40, 9, 30, 18, EventMoneyWithdrawn, 120000, "bill payment", func() metadata { return customer("web") })
	move(60, 17, 45, 2, EventMoneyWithdrawn, 19000, "card payment", func() metadata { return customer("mobile-app") })

	// 02:00: the nightly fee job starts; this night's schedule has a
	// misconfigured annual fee of 500.00 instead of 5.00.
	run := &feeRun{streamID: feeRunStreamID(day(DisputeDay, 0, 0, 0)), corr: DisputeFeeRunCorrelationID, startedID: DisputeFeeRunEventID}
	jobMD := func() metadata {
		return metadata{CorrelationID: run.corr, CausationID: run.startedID, Actor: DisputeJobActor, Source: DisputeJobSource}
	}
	story(day(DisputeDay, 2, 0, 0), func(at time.Time) evt {
		return evt{at: at, streamID: run.streamID, streamType: StreamFeeRun, eventType: EventFeeRunStarted, id: DisputeFeeRunEventID,
			payload: feeRunStarted{RunDate: at.Format("2006-01-02"), Schedule: "standard-2025"},
			md:      metadata{CorrelationID: run.corr, Actor: DisputeJobActor, Source: DisputeJobSource}}
	}, func(string) {
		done := w.chargeFees(day(DisputeDay, 2, 0, 0), run)
		if earliest := day(DisputeDay, 2, 0, 4); done.Before(earliest) {
			done = earliest
		}
		w.schedule(done, true, func(at time.Time) {
			w.storyLeft--
			w.completeFeeRun(at, run, DisputeFeeRunDoneEventID)
		})
	})
	story(w.day0.Add(time.Duration(DisputeDay)*24*time.Hour+2*time.Hour+3*time.Second), func(at time.Time) evt {
		e := walletEvt(at, wl, EventMoneyWithdrawn, moneyWithdrawn{Amount: 50000, Reason: "annual fee"}, jobMD())
		e.id = DisputeWithdrawalEventID
		return e
	}, nil)
	story(day(DisputeDay, 8, 12, 44), func(at time.Time) evt {
		e := walletEvt(at, wl, EventDisputeOpened, disputeOpened{DisputeID: DisputeID, Amount: 50000,
			Reason: "I never agreed to an annual fee, and it overdrew my wallet at 2 AM"},
			metadata{CorrelationID: DisputeCorrelationID, CausationID: DisputeWithdrawalEventID, Actor: DisputeCustomer, Source: "mobile-app"})
		e.id = DisputeOpenedEventID
		return e
	}, nil)
	story(day(DisputeDay, 10, 41, 9), func(at time.Time) evt {
		e := walletEvt(at, wl, EventDisputeResolved, disputeResolved{DisputeID: DisputeID, Outcome: "refunded", Refunded: 50000},
			metadata{CorrelationID: DisputeCorrelationID, CausationID: DisputeOpenedEventID, Actor: DisputeAgent, Source: "support-console"})
		e.id = DisputeResolvedEventID
		return e
	}, nil)
	story(day(DisputeDay, 10, 41, 10), func(at time.Time) evt {
		e := walletEvt(at, wl, EventMoneyDeposited, moneyDeposited{Amount: 50000, Source: "refund"},
			metadata{CorrelationID: DisputeCorrelationID, CausationID: DisputeResolvedEventID, Actor: DisputeAgent, Source: "support-console"})
		e.id = DisputeRefundEventID
		return e
	}, nil)
}

func heapPop(h *taskHeap) *task {
	return heap.Pop(h).(*task)
}

// Seed loads the demo world into store with COPY, opts.BatchSize events per
// COPY, and calls progress (when non-nil) after each batch. Generation of
// the next batch overlaps the COPY of the current one. It returns the number
// of events loaded. A failure leaves the batches already loaded in place:
// each COPY commits on its own, because one transaction over a million rows
// would hold its locks and WAL for minutes.
func Seed(ctx context.Context, store *eventstore.Store, opts Options, progress func(done, total int)) (int, error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []eventstore.Event, 2)
	go func() {
		defer close(batches)
		for b := range Generate(opts) {
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	done := 0
	for b := range batches {
		n, err := store.Import(ctx, b)
		done += int(n)
		if err != nil {
			cancel()
			for range batches { // let the producer exit
			}
			return done, fmt.Errorf("demo: unable to seed (after %d of %d events): %w", done, opts.Events, err)
		}
		if progress != nil {
			progress(done, opts.Events)
		}
	}
	if err := ctx.Err(); err != nil {
		return done, fmt.Errorf("demo: seeding cancelled after %d of %d events: %w", done, opts.Events, err)
	}
	return done, nil
}

// Seeded reports whether the demo world is already loaded in store: whether
// the dispute story's refund, one of its last events, exists.
func Seeded(ctx context.Context, store *eventstore.Store) (bool, error) {
	_, err := store.EventByID(ctx, DisputeRefundEventID)
	if errors.Is(err, eventstore.ErrEventNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("demo: unable to check for the demo world: %w", err)
	}
	return true, nil
}
