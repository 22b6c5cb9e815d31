package demo

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
)

// walletDriftMapping is the "drift" section the demo reducers file needs
// for wallet_balances.
const walletDriftMapping = `{"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id",
	"fields": {"/balance": "balance", "/status": "status"}}}`

func TestWorkersWithFaults(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()
	if _, err := Seed(ctx, store, Options{Seed: 3, Events: 3000}, nil); err != nil {
		t.Fatal(err)
	}
	poison, err := store.EventByID(ctx, DisputeWithdrawalEventID)
	if err != nil {
		t.Fatal(err)
	}
	workers := NewWorkers(db.Pool, nil, WorkersOptions{Faults: true, Poll: 20 * time.Millisecond, RetryAfter: 50 * time.Millisecond})
	if err := workers.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer workers.Stop()
	if err := workers.Start(ctx); !errors.Is(err, ErrWorkersStarted) {
		t.Errorf("second Start: %v, want ErrWorkersStarted", err)
	}

	checkpoint := func(ctx context.Context, name string) (pos int64, lastErr *string, errs int, err error) {
		err = db.Pool.QueryRow(ctx, `SELECT position, last_error, error_count FROM projection_checkpoints WHERE projection = $1`, name).Scan(&pos, &lastErr, &errs)
		return
	}
	// wallet_balances reaches the head (3000).
	pgtest.WaitFor(t, "wallet_balances to catch up", 60*time.Second, func(ctx context.Context) (bool, error) {
		pos, _, _, err := checkpoint(ctx, ProjectionWalletBalances)
		return pos == 3000, err
	})
	// fraud_scores stops right before the poison event, with its error.
	pgtest.WaitFor(t, "fraud_scores to fail", 60*time.Second, func(ctx context.Context) (bool, error) {
		_, lastErr, errs, err := checkpoint(ctx, ProjectionFraudScores)
		return lastErr != nil && errs >= 2, err
	})
	if pos, _, _, _ := checkpoint(ctx, ProjectionFraudScores); pos != poison.Position-1 {
		t.Errorf("fraud_scores checkpoint %d, want %d (just before the poison event)", pos, poison.Position-1)
	}
	// order_summary moves, slowly: 40 positions per batch.
	pgtest.WaitFor(t, "order_summary to advance", 30*time.Second, func(ctx context.Context) (bool, error) {
		pos, _, _, err := checkpoint(ctx, ProjectionOrderSummary)
		return pos >= 40, err
	})

	// The read model agrees with the folded state except for the dispute
	// wallet, whose refund was dropped on purpose.
	drift := startDrift(t, db)
	sd, err := drift.CheckStream(ctx, ProjectionWalletBalances, DisputeWalletID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Fields) != 1 || sd.Fields[0].Pointer != "/balance" {
		t.Fatalf("dispute wallet drift: %+v", sd)
	}
	id, err := drift.StartJob(ProjectionWalletBalances)
	if err != nil {
		t.Fatal(err)
	}
	var job projections.Job
	pgtest.WaitFor(t, "drift job", 60*time.Second, func(context.Context) (bool, error) {
		job, err = drift.Job(id)
		return job.Finished, err
	})
	if job.Error != "" || job.Done == 0 || len(job.Drifted) != 1 || job.Drifted[0].StreamID != DisputeWalletID {
		t.Errorf("check all: done %d, error %q, drifted %+v", job.Done, job.Error, job.Drifted)
	}
}

func TestWorkersWithoutFaults(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()
	if _, err := Seed(ctx, store, Options{Seed: 4, Events: 1500}, nil); err != nil {
		t.Fatal(err)
	}
	workers := NewWorkers(db.Pool, nil, WorkersOptions{Poll: 20 * time.Millisecond})
	if err := workers.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer workers.Stop()
	pgtest.WaitFor(t, "every projection to catch up", 60*time.Second, func(ctx context.Context) (bool, error) {
		var behind int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM projection_checkpoints WHERE position < 1500 OR last_error IS NOT NULL`).Scan(&behind)
		return behind == 0, err
	})
	// Without faults every wallet row matches its folded state.
	drift := startDrift(t, db)
	id, err := drift.StartJob(ProjectionWalletBalances)
	if err != nil {
		t.Fatal(err)
	}
	var job projections.Job
	pgtest.WaitFor(t, "drift job", 60*time.Second, func(context.Context) (bool, error) {
		job, err = drift.Job(id)
		return job.Finished, err
	})
	if job.Error != "" || job.Done == 0 || job.Done != job.Total || len(job.Drifted) != 0 {
		t.Errorf("check all without faults: done %d/%d, error %q, drifted %+v", job.Done, job.Total, job.Error, job.Drifted)
	}
	var orders int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM order_summary WHERE amount IS NOT NULL`).Scan(&orders); err != nil || orders == 0 {
		t.Errorf("order_summary rows with an amount: %d (%v)", orders, err)
	}
}

// startDrift starts a drift checker on the demo reducers plus the
// wallet_balances mapping.
func startDrift(t *testing.T, db *pgtest.DB) *projections.Drift {
	t.Helper()
	var cfgMap map[string]json.RawMessage
	if err := json.Unmarshal(ReducersJSON, &cfgMap); err != nil {
		t.Fatal(err)
	}
	cfgMap["drift"] = json.RawMessage(walletDriftMapping)
	raw, err := json.Marshal(cfgMap)
	if err != nil {
		t.Fatal(err)
	}
	ttCfg, err := timetravel.ParseConfig(raw, "reducers.json+drift")
	if err != nil {
		t.Fatal(err)
	}
	dcfg, err := projections.ParseDrift(ttCfg)
	if err != nil {
		t.Fatal(err)
	}
	drift := projections.NewDrift(db.Pool, dcfg, nil)
	if err := drift.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drift.Stop)
	return drift
}
