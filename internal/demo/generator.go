package demo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// GeneratorOptions configures the live Generator.
type GeneratorOptions struct {
	// Rate is the number of actions per second, roughly events per second
	// (0: 3).
	Rate float64
	// Seed seeds the choice of actions (0: from the clock). Event ids always
	// come from crypto/rand: a restarted generator must not reuse them.
	Seed uint64
	// Wallets is how many existing wallets the generator works on besides
	// the ones it opens (0: 30).
	Wallets int
	// TimeScale compresses follow-ups (shipping days after payment, a
	// dispute resolved hours later) so they happen while someone watches
	// (0: 1440, a day becomes a minute).
	TimeScale float64
}

// Generator appends realistic events to a live store at a steady rate. It
// reuses the demo world's simulation in real time, on a working set of
// existing wallets and on wallets and orders it opens itself.
type Generator struct {
	store  *eventstore.Store
	logger *slog.Logger
	opts   GeneratorOptions

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewGenerator returns a Generator writing to store.
func NewGenerator(store *eventstore.Store, logger *slog.Logger, opts GeneratorOptions) *Generator {
	if opts.Rate <= 0 {
		opts.Rate = 3
	}
	if opts.Wallets <= 0 {
		opts.Wallets = 30
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1440
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Generator{store: store, logger: logger, opts: opts}
}

// ErrGeneratorStarted is returned by Start on a running Generator.
var ErrGeneratorStarted = errors.New("demo: generator already started")

// Start loads the working set of wallets (their versions and balances) and
// starts appending in the background until Stop; ctx bounds only the
// start-up, as for every service.
func (g *Generator) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done != nil {
		return ErrGeneratorStarted
	}
	seed := g.opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	w := newWorld(seed)
	w.scale = g.opts.TimeScale
	w.target = -1
	w.walletTarget = g.opts.Wallets + 10
	// Ids of streams the generator creates carry a random token, so that
	// they never collide with the seeded world nor with an earlier run.
	run := w.shortID(6)
	w.walletIDFmt = func(n int) string { return fmt.Sprintf("wallet-live-%s-%03d", run, n) }
	w.orderIDFmt = func(n int) string { return fmt.Sprintf("order-live-%s-%05d", run, n) }

	var runCtx context.Context
	w.live = func(e evt, id string, payload, md []byte) error { return g.append(runCtx, w, e, payload, md) }
	if err := g.loadWallets(ctx, w); err != nil {
		return err
	}
	runCtx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		g.run(runCtx, w)
	}()
	g.logger.Info("demo generator started", "rate", g.opts.Rate, "wallets", len(w.wallets))
	return nil
}

// Stop stops appending and waits for the background goroutine.
func (g *Generator) Stop() {
	g.mu.Lock()
	cancel, done := g.cancel, g.done
	g.mu.Unlock()
	if done == nil {
		return
	}
	cancel()
	<-done
}

func (g *Generator) run(ctx context.Context, w *world) {
	ticker := time.NewTicker(time.Duration(float64(time.Second) / g.opts.Rate))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			now = now.UTC()
			if w.tasks.Len() > 0 && !w.tasks[0].at.After(now) {
				t := heap.Pop(&w.tasks).(*task)
				t.run(now)
				continue
			}
			w.spontaneous(now)
		}
	}
}

// append writes one event with the expected version from the in-memory
// view. On a version conflict (another writer appended to the stream) it
// re-reads the stream, re-checks the action's precondition and retries.
func (g *Generator) append(ctx context.Context, w *world, e evt, payload, md []byte) error {
	ne := eventstore.NewEvent{
		EventID:       eventstore.NewEventID(),
		EventType:     e.eventType,
		SchemaVersion: max(e.schemaVersion, 1),
		Payload:       payload,
		Metadata:      md,
		// RecordedAt stays zero: the database clock orders live events.
	}
	if e.id != "" {
		ne.EventID = e.id
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var out []eventstore.Event
		out, err = g.store.Append(ctx, e.streamID, e.streamType, w.versions[e.streamID], ne)
		if err == nil {
			w.versions[e.streamID] = out[len(out)-1].Version
			return nil
		}
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			break
		}
		if rerr := g.reload(ctx, w, e.streamID); rerr != nil {
			err = rerr
			break
		}
		if e.guard != nil && !e.guard() {
			return err
		}
	}
	if ctx.Err() == nil {
		g.logger.Warn("demo generator: append failed", "stream_id", e.streamID, "event_type", e.eventType, "error", err)
	}
	return err
}

// loadWallets picks the working set: the first existing wallets (except the
// dispute story's, which stays as documented) with versions and balances
// folded from their events.
func (g *Generator) loadWallets(ctx context.Context, w *world) error {
	infos, err := g.store.ListStreams(ctx, eventstore.StreamListQuery{Prefix: "wallet-", StreamType: StreamWallet, Limit: g.opts.Wallets + 1})
	if err != nil {
		return fmt.Errorf("demo: unable to load wallets: %w", err)
	}
	for _, si := range infos {
		if si.StreamID == DisputeWalletID || len(w.wallets) >= g.opts.Wallets {
			continue
		}
		wl := &wallet{id: si.StreamID, feeDay: -1}
		if err := g.fold(ctx, w, wl); err != nil {
			return err
		}
		w.usedHandles[wl.owner] = true
		w.wallets = append(w.wallets, wl)
		w.byID[wl.id] = wl
	}
	return nil
}

// reload re-reads a stream after a version conflict.
func (g *Generator) reload(ctx context.Context, w *world, streamID string) error {
	if wl, ok := w.byID[streamID]; ok {
		return g.fold(ctx, w, wl)
	}
	si, err := g.store.Stream(ctx, streamID)
	if err != nil {
		return fmt.Errorf("demo: unable to reload stream %q: %w", streamID, err)
	}
	w.versions[streamID] = si.Version
	return nil
}

// fold rebuilds a wallet's balance, status and version from its events.
func (g *Generator) fold(ctx context.Context, w *world, wl *wallet) error {
	var balance Money
	frozen, disputes, version := false, 0, 0
	for {
		events, err := g.store.ReadStream(ctx, eventstore.StreamQuery{StreamID: wl.id, After: version, Limit: eventstore.MaxPageSize})
		if err != nil {
			return fmt.Errorf("demo: unable to fold wallet %q: %w", wl.id, err)
		}
		for _, e := range events {
			version = e.Version
			var p struct {
				Owner    string      `json:"owner"`
				Currency string      `json:"currency"`
				Amount   jsonDecimal `json:"amount"`
			}
			if err := unmarshal(e.Payload, &p); err != nil {
				continue // not written by us: skip what we cannot read
			}
			switch e.EventType {
			case EventWalletOpened:
				wl.owner, wl.currency = strings.TrimPrefix(p.Owner, "customer:"), p.Currency
			case EventMoneyDeposited, EventTransferReceived:
				balance += Money(p.Amount)
			case EventMoneyWithdrawn, EventTransferSent:
				balance -= Money(p.Amount)
			case EventWalletFrozen:
				frozen = true
			case EventWalletUnfrozen:
				frozen = false
			case EventDisputeOpened:
				disputes++
			case EventDisputeResolved:
				disputes--
			}
		}
		if len(events) < eventstore.MaxPageSize {
			break
		}
	}
	if wl.owner == "" {
		wl.owner = "unknown"
	}
	if wl.currency == "" {
		wl.currency = "EUR"
	}
	wl.balance, wl.frozen, wl.openDisputes = balance, frozen, max(disputes, 0)
	w.versions[wl.id] = version
	return nil
}
