package projections

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
)

const driftConfigJSON = `{
  "reducers": {
    "Wallet": {
      "WalletOpened": [{"op": "set", "path": "/status", "value": "open"}, {"op": "set", "path": "/balance", "value": 0}],
      "MoneyDeposited": [{"op": "inc", "path": "/balance", "from": "/amount"}],
      "WalletFrozen": [{"op": "set", "path": "/status", "value": "frozen"}]
    }
  },
  "drift": {
    "wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id",
      "fields": {"/balance": "balance", "/status": "status"}}
  }
}`

func parseDrift(t *testing.T, js string) *DriftConfig {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(js), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDrift(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wallet(t *testing.T, store *eventstore.Store, id string, payloads ...[2]string) {
	t.Helper()
	var in []eventstore.NewEvent
	for _, p := range payloads {
		in = append(in, eventstore.NewEvent{EventType: p[0], Payload: []byte(p[1])})
	}
	if _, err := store.Append(t.Context(), id, "Wallet", eventstore.AnyVersion, in...); err != nil {
		t.Fatal(err)
	}
}

func TestDriftDetectsSeededMismatch(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric, status text)`)
	opened := [2]string{"WalletOpened", `{}`}
	wallet(t, store, "w-ok", opened, [2]string{"MoneyDeposited", `{"amount": 10.50}`})                                     // 1, 2
	wallet(t, store, "w-wrong", opened, [2]string{"MoneyDeposited", `{"amount": 20.00}`}, [2]string{"WalletFrozen", `{}`}) // 3, 4, 5
	wallet(t, store, "w-missing", opened)                                                                                  // 6
	wallet(t, store, "w-ok", [2]string{"MoneyDeposited", `{"amount": 5}`})                                                 // 7: after the checkpoint
	exec(`INSERT INTO wallet_balances VALUES ('w-ok', 10.5, 'open'), ('w-wrong', 99, 'open')`)
	exec(`INSERT INTO projection_checkpoints (projection, position) VALUES ('wallet_balances', 6)`)

	d := NewDrift(db.Pool, parseDrift(t, driftConfigJSON), nil)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	rep, err := d.CheckSample(ctx, "wallet_balances", 50)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 3 || rep.Checkpoint != 6 {
		t.Errorf("checked %d streams at %d, want 3 at 6", rep.Checked, rep.Checkpoint)
	}
	got := map[string]StreamDrift{}
	for _, sd := range rep.Drifted {
		got[sd.StreamID] = sd
	}
	// w-ok: 10.50 folded == 10.5 stored, and its event 7 is after the
	// checkpoint, so it is not expected in the row yet.
	if _, ok := got["w-ok"]; ok || len(got) != 2 {
		t.Errorf("drifted: %+v", rep.Drifted)
	}
	w := got["w-wrong"]
	if len(w.Fields) != 2 || w.Fields[0].Pointer != "/balance" || w.Fields[0].Expected != "20.00" || w.Fields[0].Actual != "99" ||
		w.Fields[1].Pointer != "/status" || w.Fields[1].Expected != `"frozen"` || w.Fields[1].Actual != `"open"` {
		t.Errorf("w-wrong fields: %+v", w.Fields)
	}
	if !got["w-missing"].MissingRow {
		t.Errorf("w-missing: %+v", got["w-missing"])
	}

	// The background job finds the same two.
	id, err := d.StartJob("wallet_balances")
	if err != nil {
		t.Fatal(err)
	}
	job := waitJob(t, d, id)
	if job.Error != "" || job.Total != 3 || job.Done != 3 || len(job.Drifted) != 2 {
		t.Errorf("job: %+v", job)
	}
	if _, err := d.Job("nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: %v", err)
	}
	if _, err := d.CheckSample(ctx, "other", 5); !errors.Is(err, ErrNoDriftMapping) {
		t.Errorf("unmapped projection: %v", err)
	}
}

// waitJob waits for a job to finish, bounded by a deadline.
func waitJob(t *testing.T, d *Drift, id string) Job {
	t.Helper()
	var job Job
	pgtest.WaitFor(t, "job "+id+" to finish", 20*time.Second, func(context.Context) (bool, error) {
		var err error
		job, err = d.Job(id)
		return err == nil && job.Finished, err
	})
	return job
}

func TestDriftConfigErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), `CREATE TABLE balances (wallet_id text PRIMARY KEY, balance numeric)`); err != nil {
		t.Fatal(err)
	}
	// Parse errors: missing keys, bad pointers, unknown keys.
	for js, want := range map[string]string{
		`{"drift": {"p": {"table": "balances"}}}`: "missing stream_type, key_column, fields",
		`{"drift": {"p": {"stream_type": "W", "table": "balances", "key_column": "wallet_id", "fields": {"balance": "balance"}}}}`: `"balance" is not a JSON pointer`,
		`{"drift": {"p": {"stream_type": "W", "table": "t", "key_column": "k", "fields": {"/a": "a"}, "tabel": 1}}}`:               `unknown field "tabel"`,
		`{"drift": []}`: `"drift" must be an object`,
	} {
		cfg, err := timetravel.ParseConfig([]byte(js), "r.json")
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseDrift(cfg)
		if !errors.Is(err, ErrInvalidDrift) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", js, err, want)
		}
	}
	// Validation against the database names the missing table or columns.
	d := parseDrift(t, `{"drift": {
		"a": {"stream_type": "W", "table": "nope", "key_column": "id", "fields": {"/x": "x"}},
		"b": {"stream_type": "W", "table": "balances", "key_column": "id", "fields": {"/balance": "balance", "/status": "status"}}}}`)
	err := NewDrift(db.Pool, d, nil).Start(t.Context())
	if !errors.Is(err, ErrInvalidDrift) {
		t.Fatalf("validate: %v", err)
	}
	for _, want := range []string{`drift["a"]: table "nope" does not exist`, `drift["b"]: table public.balances has no column "id", "status"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate error %q lacks %q", err, want)
		}
	}
}

func TestSameValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		eq   bool
	}{
		{`10.5`, `10.50`, true}, {`10.5`, `"10.50"`, true}, {`1e2`, `100`, true}, {`10.5`, `10.51`, false},
		{`"a"`, `"a"`, true}, {`"a"`, `"b"`, false}, {`null`, `null`, true}, {`0`, `null`, false},
		{`{"x": 1.0}`, `{"x": 1}`, true}, {`[1, 2]`, `[1, 2.00]`, true}, {`[1]`, `[1, 2]`, false}, {`true`, `"true"`, false},
		{`"10.50"`, `10.5`, true}, {`{"x": [1]}`, `{"x": ["1.0"]}`, true}, {`"10.5"`, `"10.50"`, false}, {`1`, `"one"`, false},
	}
	for _, c := range cases {
		a, _ := timetravel.DecodeJSON([]byte(c.a))
		b, _ := timetravel.DecodeJSON([]byte(c.b))
		if got := sameValue(a, b); got != c.eq {
			t.Errorf("sameValue(%s, %s) = %v, want %v", c.a, c.b, got, c.eq)
		}
	}
}
