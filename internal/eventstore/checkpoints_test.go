package eventstore_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auditd/auditd/internal/eventstore"
)

// A Store on a repeatable-read transaction reads events and checkpoints at
// the transaction's snapshot: what drift checks rely on to compare a read
// model with the events its checkpoint covers.
func TestStoreInTxReadsOneSnapshot(t *testing.T) {
	t.Parallel()
	store, db := setup(t)
	ctx := t.Context()
	first, err := store.Append(ctx, "w-1", "Wallet", eventstore.NoStream, newEv("Opened", `{}`), newEv("Deposited", `{"amount":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterCheckpoint(ctx, "balances"); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCheckpoint(ctx, "balances", first[1].Position, ""); err != nil {
		t.Fatal(err)
	}

	tx, err := db.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	es := store.InTx(tx)
	if cp, err := es.CheckpointPosition(ctx, "balances"); err != nil || cp != first[1].Position {
		t.Fatalf("checkpoint in snapshot = %d, %v; want %d", cp, err, first[1].Position)
	}

	// Committed after the snapshot's first read: invisible inside it.
	later, err := store.Append(ctx, "w-1", "Wallet", 2, newEv("Deposited", `{"amount":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveCheckpoint(ctx, "balances", later[0].Position, ""); err != nil {
		t.Fatal(err)
	}
	if cp, err := es.CheckpointPosition(ctx, "balances"); err != nil || cp != first[1].Position {
		t.Errorf("checkpoint moved inside the snapshot: %d, %v", cp, err)
	}
	evs, err := es.StreamUpTo(ctx, "w-1", later[0].Position)
	if err != nil || len(evs) != 2 || evs[1].Version != 2 {
		t.Errorf("stream inside the snapshot = %+v, %v; want versions 1-2", evs, err)
	}
	if ids, err := es.RecentStreams(ctx, "Wallet", first[1].Position, 5); err != nil || len(ids) != 1 || ids[0] != "w-1" {
		t.Errorf("recent streams = %v, %v", ids, err)
	}
	// The pool-bound store sees the new event.
	evs, err = store.StreamUpTo(ctx, "w-1", later[0].Position)
	if err != nil || len(evs) != 3 {
		t.Errorf("stream outside the snapshot = %d events, %v; want 3", len(evs), err)
	}
	if cp, err := store.CheckpointPosition(ctx, "nobody"); err != nil || cp != 0 {
		t.Errorf("unknown checkpoint = %d, %v; want 0", cp, err)
	}
}

func TestCheckpointWritesAndStreamStatusReads(t *testing.T) {
	t.Parallel()
	store, db := setup(t)
	ctx := t.Context()
	evs, err := store.Append(ctx, "o-1", "Order", eventstore.NoStream, newEv("Placed", `{}`), newEv("Paid", `{}`), newEv("Shipped", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterCheckpoint(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterCheckpoint(ctx, "orders"); err != nil {
		t.Fatalf("registering twice: %v", err)
	}

	// A worker's batch: lock, read what follows, move the checkpoint.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es := store.InTx(tx)
	cp, err := es.LockCheckpoint(ctx, "orders")
	if err != nil || cp != 0 {
		t.Fatalf("lock = %d, %v", cp, err)
	}
	next, err := es.EventsAfter(ctx, cp, 2)
	if err != nil || len(next) != 2 || next[0].Position != evs[0].Position {
		t.Fatalf("events after 0 = %+v, %v", next, err)
	}
	if err := es.SaveCheckpoint(ctx, "orders", next[0].Position, "cannot apply Paid"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	head, cps, err := store.Checkpoints(ctx)
	if err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}
	c := cps[0]
	if head.Position != evs[2].Position || c.Name != "orders" || c.Position != evs[0].Position || c.ErrorCount != 1 ||
		c.LastError == nil || *c.LastError != "cannot apply Paid" || c.NextPosition != evs[1].Position || c.NextAt == nil {
		t.Errorf("head %+v, checkpoint %+v", head, c)
	}
	if err := store.SaveCheckpoint(ctx, "orders", evs[1].Position, ""); err != nil {
		t.Fatal(err)
	}
	behind, err := store.StreamBehindCheckpoints(ctx, "o-1")
	if err != nil || len(behind) != 1 || behind[0].Checkpoint != evs[1].Position || behind[0].EventsBehind != 1 {
		t.Errorf("behind = %+v, %v", behind, err)
	}
	if _, cps, _ = store.Checkpoints(ctx); cps[0].LastError != nil || cps[0].ErrorCount != 1 {
		t.Errorf("a clean save keeps the count and clears the error: %+v", cps[0])
	}
	if last, err := store.StreamLastPosition(ctx, "o-1"); err != nil || last != evs[2].Position {
		t.Errorf("last position = %d, %v", last, err)
	}
	if _, err := store.StreamLastPosition(ctx, "o-2"); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("missing stream: %v", err)
	}
	if n, err := store.StreamLength(ctx, "o-1"); err != nil || n != 3 {
		t.Errorf("length = %d, %v", n, err)
	}
	if n, err := store.CountStreams(ctx, "Order"); err != nil || n != 1 {
		t.Errorf("count = %d, %v", n, err)
	}
	if ids, err := store.StreamIDs(ctx, "Order", "", 10); err != nil || len(ids) != 1 || ids[0] != "o-1" {
		t.Errorf("ids = %v, %v", ids, err)
	}
	if ids, err := store.StreamIDs(ctx, "Order", "o-1", 10); err != nil || len(ids) != 0 {
		t.Errorf("ids after o-1 = %v, %v", ids, err)
	}
}
