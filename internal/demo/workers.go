package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
)

// Demo projections: real workers that build read-model tables from the
// events and keep their checkpoint in projection_checkpoints, as an
// application beside auditd would.
const (
	ProjectionWalletBalances = "wallet_balances"
	ProjectionOrderSummary   = "order_summary"
	ProjectionFraudScores    = "fraud_scores"
)

// WorkersOptions configure the demo projection workers.
type WorkersOptions struct {
	// Faults makes order_summary slow (tiny batches and a pause per batch),
	// fraud_scores fail on a poison event (the dispute's 500.00 fee
	// withdrawal: it records last_error and stops advancing there), and
	// wallet_balances drift (it ignores the dispute's refund, so that
	// wallet's balance is 500.00 too low).
	Faults bool
	// Poll is how often an idle worker looks for new events (default 250 ms).
	Poll time.Duration
	// RetryAfter is how long a failing worker waits before retrying its
	// poison event (default 5 s).
	RetryAfter time.Duration
}

// readModelsSQL creates the demo application's read-model tables. They are
// the application's tables, not auditd's, so they are created here rather
// than by an auditd migration.
const readModelsSQL = `
CREATE TABLE IF NOT EXISTS public.wallet_balances (
    wallet_id  text PRIMARY KEY,
    owner      text,
    currency   text,
    balance    numeric NOT NULL DEFAULT 0,
    status     text NOT NULL DEFAULT 'open',
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.order_summary (
    order_id    text PRIMARY KEY,
    customer_id text,
    status      text NOT NULL,
    amount      numeric,
    currency    text,
    refunded    numeric NOT NULL DEFAULT 0,
    position    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.fraud_scores (
    wallet_id   text PRIMARY KEY,
    withdrawals integer NOT NULL DEFAULT 0,
    withdrawn   numeric NOT NULL DEFAULT 0,
    position    bigint NOT NULL DEFAULT 0
);`

// EnsureReadModels creates the read-model tables if they do not exist.
func EnsureReadModels(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, readModelsSQL); err != nil {
		return fmt.Errorf("demo: unable to create read-model tables: %w", err)
	}
	return nil
}

// poisonError is a worker refusing an event: the checkpoint stays before it.
type poisonError struct{ msg string }

func (e *poisonError) Error() string { return e.msg }

// worker is one projection: how it applies an event, in which batches.
type worker struct {
	name  string
	batch int
	pause time.Duration // per batch, when slow
	apply func(b *pgx.Batch, ev *eventstore.Event) error
}

// ErrWorkersStarted is returned by a second Start.
var ErrWorkersStarted = errors.New("demo: workers already started")

// Workers are the three demo projection workers, a service like the others:
// NewWorkers, then Start and Stop.
type Workers struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	opts   WorkersOptions

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWorkers returns the workers; nothing runs until Start.
func NewWorkers(pool *pgxpool.Pool, logger *slog.Logger, opts WorkersOptions) *Workers {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 5 * time.Second
	}
	return &Workers{pool: pool, logger: logger, opts: opts}
}

// Start creates the read-model tables, registers the projections' checkpoints
// and starts the workers in the background until Stop; ctx bounds only the
// start-up.
func (ws *Workers) Start(ctx context.Context) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.cancel != nil {
		return ErrWorkersStarted
	}
	if err := EnsureReadModels(ctx, ws.pool); err != nil {
		return err
	}
	store := eventstore.New(ws.pool)
	workers := demoWorkers(ws.opts.Faults)
	for _, w := range workers {
		if err := store.RegisterCheckpoint(ctx, w.name); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ws.cancel = cancel
	for _, w := range workers {
		ws.wg.Go(func() { runWorker(runCtx, ws.pool, store, ws.logger.With("projection", w.name), w, ws.opts) })
	}
	return nil
}

// Stop cancels the workers and waits until they return.
func (ws *Workers) Stop() {
	ws.mu.Lock()
	cancel := ws.cancel
	ws.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	ws.wg.Wait()
}

func demoWorkers(faults bool) []worker {
	ws := []worker{
		{name: ProjectionWalletBalances, batch: 500, apply: walletBalances(faults)},
		{name: ProjectionOrderSummary, batch: 500, apply: orderSummary},
		{name: ProjectionFraudScores, batch: 500, apply: fraudScores(faults)},
	}
	if faults {
		// Slower than the demo's traffic right after seeding, so it spends
		// minutes catching up with a visible ETA.
		ws[1].batch, ws[1].pause = 40, time.Second
	}
	return ws
}

// runWorker processes batches until ctx ends.
func runWorker(ctx context.Context, pool *pgxpool.Pool, store *eventstore.Store, logger *slog.Logger, w worker, opts WorkersOptions) {
	for {
		n, err := step(ctx, pool, store, w)
		wait := time.Duration(0)
		var poison *poisonError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &poison):
			logger.Warn("demo: projection failed on an event", "error", err)
			wait = opts.RetryAfter
		case err != nil:
			logger.Warn("demo: projection batch failed", "error", err)
			wait = opts.RetryAfter
		case n == 0:
			wait = opts.Poll
		default:
			wait = w.pause
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// step processes one batch in one transaction: the read-model writes and
// the checkpoint commit together, so the read model is always exactly the
// events up to the checkpoint. On a poison event the events before it are
// committed, and the error is recorded on the checkpoint row.
func step(ctx context.Context, pool *pgxpool.Pool, store *eventstore.Store, w worker) (int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("demo: %s: unable to begin: %w", w.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	es := store.InTx(tx)
	cp, err := es.LockCheckpoint(ctx, w.name)
	if err != nil {
		return 0, fmt.Errorf("demo: %s: %w", w.name, err)
	}
	events, err := es.EventsAfter(ctx, cp, w.batch)
	if err != nil {
		return 0, fmt.Errorf("demo: %s: %w", w.name, err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	last := cp
	var poison *poisonError
	for i := range events {
		if err := w.apply(b, &events[i]); err != nil {
			if !errors.As(err, &poison) {
				return 0, err
			}
			break
		}
		last = events[i].Position
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, fmt.Errorf("demo: %s: unable to apply batch: %w", w.name, err)
		}
	}
	failure := ""
	if poison != nil {
		failure = poison.msg
	}
	if err := es.SaveCheckpoint(ctx, w.name, last, failure); err != nil {
		return 0, fmt.Errorf("demo: %s: %w", w.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("demo: %s: unable to commit: %w", w.name, err)
	}
	if poison != nil {
		return int(last - cp), poison
	}
	return len(events), nil
}

// walletBalances keeps one row per wallet with its balance and status. With
// faults, it drops the dispute's refund: a wrong balance for one wallet.
func walletBalances(faults bool) func(*pgx.Batch, *eventstore.Event) error {
	return func(b *pgx.Batch, ev *eventstore.Event) error {
		if ev.StreamType != StreamWallet {
			return nil
		}
		p := string(ev.Payload)
		switch ev.EventType {
		case EventWalletOpened:
			b.Queue(`INSERT INTO wallet_balances (wallet_id, owner, currency, position) VALUES ($1, $2::jsonb->>'owner', $2::jsonb->>'currency', $3)
				ON CONFLICT (wallet_id) DO NOTHING`, ev.StreamID, p, ev.Position)
		case EventMoneyDeposited, EventTransferReceived:
			if faults && ev.EventID == DisputeRefundEventID {
				return nil // the deliberate drift
			}
			b.Queue(`UPDATE wallet_balances SET balance = balance + ($2::jsonb->>'amount')::numeric, position = $3, updated_at = now() WHERE wallet_id = $1`, ev.StreamID, p, ev.Position)
		case EventMoneyWithdrawn, EventTransferSent:
			b.Queue(`UPDATE wallet_balances SET balance = balance - ($2::jsonb->>'amount')::numeric, position = $3, updated_at = now() WHERE wallet_id = $1`, ev.StreamID, p, ev.Position)
		case EventWalletFrozen:
			b.Queue(`UPDATE wallet_balances SET status = 'frozen', position = $2, updated_at = now() WHERE wallet_id = $1`, ev.StreamID, ev.Position)
		case EventWalletUnfrozen:
			b.Queue(`UPDATE wallet_balances SET status = 'open', position = $2, updated_at = now() WHERE wallet_id = $1`, ev.StreamID, ev.Position)
		}
		return nil
	}
}

// orderSummary keeps one row per order: status, amount, refunds. It reads
// both OrderPlaced schema versions itself (it does not use upcasters).
func orderSummary(b *pgx.Batch, ev *eventstore.Event) error {
	if ev.StreamType != StreamOrder {
		return nil
	}
	p := string(ev.Payload)
	set := func(status string) {
		b.Queue(`UPDATE order_summary SET status = $2, position = $3, updated_at = now() WHERE order_id = $1`, ev.StreamID, status, ev.Position)
	}
	switch ev.EventType {
	case EventOrderPlaced:
		b.Queue(`INSERT INTO order_summary (order_id, customer_id, status, amount, currency, position)
			VALUES ($1, coalesce($2::jsonb->>'customer_id', $2::jsonb->>'customer'), 'placed',
			        coalesce($2::jsonb->'amount'->>'value', $2::jsonb->>'total')::numeric,
			        coalesce($2::jsonb->'amount'->>'currency', 'EUR'), $3)
			ON CONFLICT (order_id) DO NOTHING`, ev.StreamID, p, ev.Position)
	case EventPaymentTaken:
		set("paid")
	case EventOrderShipped:
		set("shipped")
	case EventOrderCancelled:
		set("cancelled")
	case EventRefundIssued:
		b.Queue(`UPDATE order_summary SET status = 'refunded', refunded = refunded + ($2::jsonb->>'amount')::numeric, position = $3, updated_at = now() WHERE order_id = $1`, ev.StreamID, p, ev.Position)
	}
	return nil
}

// fraudScores counts withdrawals per wallet. With faults, the dispute's fee
// withdrawal is a poison event it cannot process.
func fraudScores(faults bool) func(*pgx.Batch, *eventstore.Event) error {
	return func(b *pgx.Batch, ev *eventstore.Event) error {
		if ev.StreamType != StreamWallet || (ev.EventType != EventMoneyWithdrawn && ev.EventType != EventTransferSent) {
			return nil
		}
		if faults && ev.EventID == DisputeWithdrawalEventID {
			return &poisonError{msg: fmt.Sprintf("fraud_scores: cannot score %s at position %d on %s: amount %s overdraws the wallet (score model rejects negative balances)",
				ev.EventType, ev.Position, ev.StreamID, DisputeAmount)}
		}
		b.Queue(`INSERT INTO fraud_scores (wallet_id, withdrawals, withdrawn, position) VALUES ($1, 1, ($2::jsonb->>'amount')::numeric, $3)
			ON CONFLICT (wallet_id) DO UPDATE SET withdrawals = fraud_scores.withdrawals + 1,
			    withdrawn = fraud_scores.withdrawn + EXCLUDED.withdrawn, position = EXCLUDED.position`, ev.StreamID, string(ev.Payload), ev.Position)
		return nil
	}
}
