package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// A reducer file with a rule that cannot work stops `auditd serve` before
// it listens, with an error naming the file and the rule.
func TestServeRefusesBadReducers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	bad := filepath.Join(t.TempDir(), "reducers.json")
	src := `{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "increment", "path": "/balance", "from": "/amount"}]}}}`
	if err := os.WriteFile(bad, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	err := run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--reducers", bad, "--listen", "127.0.0.1:0", "--no-live"}, &stdout, io.Discard)
	if err == nil {
		t.Fatal("serve started with a bad reducers file")
	}
	for _, want := range []string{bad, "Wallet", "MoneyDeposited", "increment"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(stdout.String(), "auditd is running") {
		t.Errorf("serve listened before failing: %q", stdout.String())
	}
}

// The --reducers file reaches the state page: deposits are summed by its
// rule rather than merged.
func TestServeFoldsWithReducers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	file := filepath.Join(t.TempDir(), "reducers.json")
	src := `{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "inc", "path": "/balance", "from": "/amount"}]}}}`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(db.Pool)
	var evs []eventstore.NewEvent
	for i := 1; i <= 3; i++ {
		evs = append(evs, eventstore.NewEvent{EventType: "MoneyDeposited", Payload: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, i*10)),
			RecordedAt: time.Date(2025, 5, 16, 2, i, 0, 0, time.UTC)})
	}
	if _, err := store.Append(t.Context(), "wallet-7", "Wallet", eventstore.NoStream, evs...); err != nil {
		t.Fatal(err)
	}
	url := startCommand(t, "serve", "--database-url", db.ConnString, "--reducers", file, "--listen", "127.0.0.1:0", "--no-live", "--auth=off")
	var got struct {
		Version int            `json:"version"`
		State   map[string]any `json:"state"`
	}
	getJSON(t, url+"streams/wallet-7/state?version=2", &got)
	if got.Version != 2 || fmt.Sprint(got.State["balance"]) != "30" || len(got.State) != 1 {
		t.Errorf("state at v2 = v%d %v, want balance 30 only", got.Version, got.State)
	}
}

// Start-up deletes the snapshots that earlier reducers left: they are never
// read again.
func TestServePrunesSnapshotsOfEarlierReducers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO auditd.snapshots (stream_id, fingerprint, version, recorded_at, state)
		VALUES ('wallet-7', 'an-earlier-config', 1, now(), '{}')`); err != nil {
		t.Fatal(err)
	}
	startCommand(t, "serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--no-live", "--auth=off")
	var left int
	if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.snapshots WHERE fingerprint = 'an-earlier-config'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("snapshots of an earlier config after start-up: %d (%v)", left, err)
	}
}

// serve keeps snapshots warm: events committed while it runs are folded up
// to their newest snapshot interval through the live feed, before anyone
// reads the stream.
func TestServeWarmsSnapshotsAsEventsCommit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	slot := "serve_warm_test"
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	})
	startCommand(t, "serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--auth=off", "--slot", slot)
	var evs []eventstore.NewEvent
	for i := 1; i <= 300; i++ {
		evs = append(evs, eventstore.NewEvent{EventType: "MoneyDeposited", Payload: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, i))})
	}
	if _, err := eventstore.New(db.Pool).Append(t.Context(), "wallet-warm", "Wallet", eventstore.NoStream, evs...); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "a snapshot of wallet-warm at version 250", 60*time.Second, func(ctx context.Context) (bool, error) {
		var n int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM auditd.snapshots WHERE stream_id = 'wallet-warm' AND version = 250`).Scan(&n)
		return n == 1, err
	})
}
