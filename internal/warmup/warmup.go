// Package warmup keeps time-travel snapshots warm as events commit: a
// subscriber of the live hub notes which streams got new events, and a
// worker folds each of them up to its newest snapshot interval in the
// background, so that the first reader of a long stream does not pay for a
// cold fold. It runs beside the live path, never inside the consumer: a
// slow fold delays snapshots, not the feed.
package warmup

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/timetravel"
)

// Defaults of Options.
const (
	DefaultDebounce   = 500 * time.Millisecond
	DefaultMaxPending = 10_000
	// maxWarmed bounds the memory of which version each stream was warmed
	// to; past it the record starts over (a stream already warm then costs
	// one snapshot probe to find so).
	maxWarmed = 100_000
)

// Options tune a Warmer.
type Options struct {
	// Debounce is the least time between two rounds of folds (default
	// 500 ms): a hot stream is folded at most once a round, however many
	// events it gets, and only when it passed a snapshot interval.
	Debounce time.Duration
	// MaxPending bounds how many streams wait for a round (default
	// 10,000); streams beyond are not warmed (counted in Stats.Dropped):
	// their first reader folds them, as without the warmer.
	MaxPending int
}

// Stats count what the warmer did since it started.
type Stats struct {
	Folds       int64 // streams folded up to a new snapshot interval
	Failures    int64 // folds that failed (logged)
	Dropped     int64 // streams not warmed because MaxPending were waiting
	Resubscribe int64 // times the hub cut the warmer off and it subscribed again
}

// Warmer is the service. Build it with New, then Start and Stop.
type Warmer struct {
	hub    *live.Hub
	tt     *timetravel.Service
	logger *slog.Logger
	opts   Options

	mu      sync.Mutex
	pending map[string]head // streams with events since the last round
	warmed  map[string]int  // the snapshot version each stream was warmed to
	kick    chan struct{}   // capacity 1: "pending is not empty"

	folds, failures, dropped, resubscribe atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once
}

// head is the newest version seen of a stream.
type head struct {
	streamType string
	version    int
}

// New returns a warmer of tt's snapshots fed by hub's events.
func New(hub *live.Hub, tt *timetravel.Service, logger *slog.Logger, opts Options) *Warmer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	return &Warmer{hub: hub, tt: tt, logger: logger, opts: opts,
		pending: map[string]head{}, warmed: map[string]int{}, kick: make(chan struct{}, 1)}
}

// Start subscribes to the hub (events only) and starts the reader and the
// worker; they run until Stop.
func (w *Warmer) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sub, err := w.subscribe()
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(2)
	go func() {
		defer w.wg.Done()
		w.read(runCtx, sub)
	}()
	go func() {
		defer w.wg.Done()
		w.work(runCtx)
	}()
	return nil
}

// Stop ends the warmer and waits for a fold in progress to give up. It is
// idempotent.
func (w *Warmer) Stop() {
	w.stop.Do(func() {
		if w.cancel != nil {
			w.cancel()
		}
		w.wg.Wait()
	})
}

// Stats returns the warmer's counters.
func (w *Warmer) Stats() Stats {
	return Stats{Folds: w.folds.Load(), Failures: w.failures.Load(), Dropped: w.dropped.Load(), Resubscribe: w.resubscribe.Load()}
}

// Warmed returns the snapshot version streamID was last warmed to (0: not
// warmed yet).
func (w *Warmer) Warmed(streamID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warmed[streamID]
}

// eventsOnly is the warmer's filter: events, no alerts, lag or status.
var eventsOnly = live.Filter{Skip: []live.Kind{live.KindAlert, live.KindLag, live.KindStatus}}

func (w *Warmer) subscribe() (*live.Subscription, error) {
	return w.hub.Subscribe(eventsOnly, nil)
}

// read notes the newest version of every stream the hub delivers. It does
// no work beyond that, so it keeps up with the consumer and is not cut off.
func (w *Warmer) read(ctx context.Context, sub *live.Subscription) {
	defer func() { sub.Close() }()
	var buf []*live.Message
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done():
			if sub.Reason() != live.ReasonSlow {
				return // the hub closed
			}
			// A transaction of more events than a subscriber may have
			// unread cuts the warmer off. The newest events, a stream's
			// head among them, are still in the hub's window: noting them
			// after subscribing again loses only streams whose last event
			// already left it, and those warm on their next event.
			w.resubscribe.Add(1)
			w.logger.Warn("warmup: cut off by the live hub, subscribing again")
			next, err := w.subscribe()
			if err != nil {
				if !errors.Is(err, live.ErrClosed) {
					w.logger.Warn("warmup: unable to subscribe again", "error", err)
				}
				return
			}
			sub = next
			w.note(w.hub.Recent(eventsOnly, math.MaxInt))
		case <-sub.Wake():
			buf = sub.Take(buf[:0])
			w.note(buf)
			clear(buf)
		}
	}
}

// note records the messages' streams and wakes the worker.
func (w *Warmer) note(msgs []*live.Message) {
	w.mu.Lock()
	for _, m := range msgs {
		if m.Kind != live.KindEvent {
			continue
		}
		e := m.Event
		h, ok := w.pending[e.StreamID]
		if !ok && len(w.pending) >= w.opts.MaxPending {
			w.dropped.Add(1)
			continue
		}
		if e.Version > h.version {
			w.pending[e.StreamID] = head{streamType: e.StreamType, version: e.Version}
		}
	}
	n := len(w.pending)
	w.mu.Unlock()
	if n > 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// work runs rounds: take the pending streams, fold those that passed a
// snapshot interval since they were last warmed, then wait at least
// Debounce before the next round.
func (w *Warmer) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.mu.Lock()
		round := w.pending
		w.pending = make(map[string]head, len(round))
		w.mu.Unlock()
		for id, h := range round {
			if ctx.Err() != nil {
				return
			}
			w.warm(ctx, id, h)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.opts.Debounce):
		}
	}
}

// warm folds one stream up to its newest snapshot interval, unless it was
// already warmed there.
func (w *Warmer) warm(ctx context.Context, streamID string, h head) {
	w.mu.Lock()
	done := w.warmed[streamID]
	w.mu.Unlock()
	if every := w.tt.SnapshotEvery(); every <= 0 || h.version/every*every <= done {
		return
	}
	v, err := w.tt.WarmSnapshots(ctx, streamID, h.streamType, h.version)
	if err != nil {
		if ctx.Err() == nil {
			w.failures.Add(1)
			w.logger.Warn("warmup: unable to fold stream", "stream_id", streamID, "error", err)
		}
		return
	}
	w.folds.Add(1)
	w.mu.Lock()
	if len(w.warmed) >= maxWarmed {
		clear(w.warmed)
	}
	w.warmed[streamID] = v
	w.mu.Unlock()
}
