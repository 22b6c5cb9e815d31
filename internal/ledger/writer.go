package ledger

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Batch is the most entries written in one statement (default 500).
	Batch int
	// MaxQueued is how many entries may wait to be written before Submit
	// blocks (default 100,000): a ledger that cannot be written (disk
	// full, revoked rights) must not grow memory without bound. The
	// consumer then stops reading the slot, which keeps what follows.
	MaxQueued int
	// MinBackoff and MaxBackoff bound the wait between failed writes
	// (default 200 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// WriterStats are the writer's metrics.
type WriterStats struct {
	Entries    int64  `json:"entries"` // written since start
	Events     int64  `json:"events"`
	Queued     int    `json:"queued"`
	DurableLSN string `json:"durable_lsn"` // the last entry written
	// LastError is the error of the last write when it failed; empty once
	// a write succeeds again. FailingSince is when writes began failing.
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// Writer appends entries to the ledger in batches, in the order submitted,
// chaining their hashes. Safe for concurrent use.
type Writer struct {
	cfg    WriterConfig
	store  *Store
	logger *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	changed  *sync.Cond // the queue shrank or grew
	queue    []Entry    // accepted, not yet written, in commit order
	accepted uint64     // commit LSN of the newest accepted entry
	durable  uint64     // commit LSN of the newest written entry
	head     Hash       // hash of the newest written entry
	stopped  bool
	stats    WriterStats
}

// NewWriter returns a writer; nothing happens until Start.
func NewWriter(cfg WriterConfig, store *Store) *Writer {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 100_000
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{cfg: cfg, store: store, logger: logger.With("component", "ledger")}
	w.changed = sync.NewCond(&w.mu)
	return w
}

// Start reads the ledger's head, so that the chain continues from it and
// entries the slot re-sends are recognised, and starts writing.
func (w *Writer) Start(ctx context.Context) error {
	if n, err := w.store.Reindex(ctx); err != nil {
		return err
	} else if n > 0 {
		w.logger.Info("ledger: indexed the entries written before the stream index existed", "entries", n)
	}
	lsn, h, err := w.store.Head(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.accepted, w.durable, w.head = lsn, lsn, h
	w.stats.DurableLSN = pglogrepl.LSN(lsn).String()
	w.mu.Unlock()
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	// Wake waiters (Submit, Wait) when stopping, so none blocks for ever.
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.stopped = true
		w.changed.Broadcast()
		w.mu.Unlock()
	})
	go func() {
		defer close(w.done)
		defer stop()
		w.run(ctx)
	}()
	return nil
}

// Stop writes nothing more: what is still queued is not confirmed to the
// slot either, which re-sends it after a restart.
func (w *Writer) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
}

// Durable returns the commit LSN of the newest entry the ledger holds.
func (w *Writer) Durable() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.durable
}

// Submit queues an entry. An entry at or before the newest accepted one is
// one the slot re-sent after a reconnect: it is dropped. It blocks while
// MaxQueued entries wait, until ctx ends.
func (w *Writer) Submit(ctx context.Context, e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.CommitLSN <= w.accepted {
		return nil
	}
	if len(w.queue) >= w.cfg.MaxQueued {
		stop := context.AfterFunc(ctx, func() {
			w.mu.Lock()
			w.changed.Broadcast()
			w.mu.Unlock()
		})
		defer stop()
		for len(w.queue) >= w.cfg.MaxQueued && ctx.Err() == nil && !w.stopped {
			w.changed.Wait()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	w.queue = append(w.queue, e)
	w.accepted = e.CommitLSN
	w.stats.Queued = len(w.queue)
	w.changed.Broadcast()
	return nil
}

// Confirmable returns how far the slot may be confirmed when the consumer
// has processed the stream up to processed: all of it when every submitted
// entry is written, else up to the oldest unwritten entry's commit, which
// the slot then re-sends after a restart (a transaction is re-sent when its
// commit record is at or after the confirmed position).
func (w *Writer) Confirmable(processed uint64) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return processed
	}
	return min(processed, w.queue[0].CommitLSN)
}

// WaitWritten waits until every entry submitted so far is written, ctx
// ends or the writer stops, and reports whether they were.
func (w *Writer) WaitWritten(ctx context.Context) bool {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.changed.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) > 0 && ctx.Err() == nil && !w.stopped {
		w.changed.Wait()
	}
	return len(w.queue) == 0
}

// Stats returns the writer's metrics.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// run writes batches until ctx ends.
func (w *Writer) run(ctx context.Context) {
	backoff := w.cfg.MinBackoff
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && ctx.Err() == nil {
			w.changed.Wait()
		}
		if ctx.Err() != nil {
			w.mu.Unlock()
			return
		}
		// A copy: Submit may append (and move the queue) while it is hashed.
		batch := slices.Clone(w.queue[:min(len(w.queue), w.cfg.Batch)])
		prev := w.head
		w.mu.Unlock()

		events := 0
		for i := range batch {
			batch[i].Hash = batch[i].ChainHash(prev)
			prev = batch[i].Hash
			events += len(batch[i].Events)
		}
		err := w.store.Insert(ctx, batch)
		if err == nil {
			w.written(batch, events)
			backoff = w.cfg.MinBackoff
			continue
		}
		if ctx.Err() != nil {
			return
		}
		w.logger.Error("ledger: unable to write entries; live keeps running but does not confirm the slot past them", "error", err, "backoff", backoff)
		w.mu.Lock()
		w.stats.LastError = err.Error()
		if w.stats.FailingSince.IsZero() {
			w.stats.FailingSince = time.Now()
		}
		w.mu.Unlock()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, w.cfg.MaxBackoff)
		// The failed statement may have committed with only its reply lost:
		// entries the ledger now holds are not written twice.
		if err := w.resync(ctx); err != nil {
			w.logger.Error("ledger: unable to read the head", "error", err)
		}
	}
}

// written pops a batch the ledger now holds.
func (w *Writer) written(batch []Entry, events int) {
	last := &batch[len(batch)-1]
	w.mu.Lock()
	defer w.mu.Unlock()
	w.head, w.durable = last.Hash, last.CommitLSN
	w.queue = w.queue[len(batch):]
	w.stats.Entries += int64(len(batch))
	w.stats.Events += int64(events)
	w.stats.Queued = len(w.queue)
	w.stats.DurableLSN = pglogrepl.LSN(w.durable).String()
	w.stats.LastError, w.stats.FailingSince = "", time.Time{}
	w.changed.Broadcast()
}

// resync drops queued entries the ledger already holds.
func (w *Writer) resync(ctx context.Context) error {
	lsn, h, err := w.store.Head(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if lsn <= w.durable {
		return nil
	}
	n := 0
	for n < len(w.queue) && w.queue[n].CommitLSN <= lsn {
		n++
	}
	w.queue = w.queue[n:]
	w.head, w.durable = h, lsn
	w.stats.Queued = len(w.queue)
	w.stats.DurableLSN = pglogrepl.LSN(lsn).String()
	// The failed write had committed: writing works.
	w.stats.LastError, w.stats.FailingSince = "", time.Time{}
	w.changed.Broadcast()
	return nil
}

// lastAccepted returns the commit LSN of the newest accepted entry.
func (w *Writer) lastAccepted() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.accepted
}
