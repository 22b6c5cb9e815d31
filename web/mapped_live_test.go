package web

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
)

// mappedShape is a seed shape as a live test drives it: its table, its
// mapping (with a checkpoints section), and how to append one of its rows.
type mappedShape struct {
	name    string
	sql     string
	mapping string
	// insert appends an event of wallet mappedWallet at version v.
	insert string
	// index is the statement the setup page proposes for the stream reads.
	index string
}

// mappedCheckpoints is the application's own checkpoints table and the
// read model a drift check compares, both in schema app.
const mappedCheckpoints = `
	CREATE TABLE app.projection_positions (name text PRIMARY KEY, last_position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
	CREATE TABLE app.wallet_balances (wallet_id uuid PRIMARY KEY, balance numeric NOT NULL);`

const mappedCheckpointsSection = `"checkpoints": {"table": "app.projection_positions",
	"columns": {"name": "name", "position": "last_position", "updated_at": "updated_at", "last_error": null}}`

var mappedShapes = []mappedShape{
	{
		name: "seed-000", sql: pgtest.Seed000SQL, mapping: pgtest.Seed000Mapping,
		insert: `INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ($1, $2, $3, $4)`,
		index:  `CREATE INDEX CONCURRENTLY ON app.events (aggregate_id, version);`,
	},
	{
		name: "seed-002", sql: pgtest.Seed002SQL, mapping: pgtest.Seed002Mapping,
		// No per-stream version: $4 only orders the global revision.
		insert: `INSERT INTO app.events (aggregate_id, aggregate_type, event_type, data, metadata, revision)
			VALUES ($1, 'Wallet', $2, $3, '{"userId": "u-1"}', 100 + $4)`,
		index: `CREATE INDEX CONCURRENTLY ON app.events (aggregate_id, revision);`,
	},
}

// mappedLiveStack serves a mapped table as serve does with live on: the
// consumer decoding it, the ledger, the projection monitor and drift
// checks reading its checkpoints table, and the setup page.
func mappedLiveStack(t *testing.T, shape mappedShape) (*bundle, *httptest.Server, func(typ, payload string, v int) int64) {
	t.Helper()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, shape.sql+mappedCheckpoints); err != nil {
		t.Fatal(err)
	}
	// Commits reach the WAL at once, as on a normally configured server
	// (the test cluster defers WAL flushes).
	writer, err := pgxpool.New(ctx, db.ConnString+"&synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)
	insert := func(typ, payload string, v int) int64 {
		t.Helper()
		if _, err := writer.Exec(ctx, shape.insert, mappedWallet, typ, payload, v); err != nil {
			t.Fatal(err)
		}
		var pos int64
		if err := db.Pool.QueryRow(ctx, `SELECT max(`+map[bool]string{true: "id", false: "revision"}[shape.name == "seed-000"]+`) FROM app.events`).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return pos
	}
	// Two events before the slot exists: the back-fill witnesses them.
	insert("WalletOpened", `{"balance": 0}`, 1)
	insert("MoneyDeposited", `{"amount": 20}`, 2)

	mapping := strings.TrimSuffix(strings.TrimSpace(shape.mapping), "}") + ", " + mappedCheckpointsSection + "}"
	m, err := eventstore.ParseMapping([]byte(mapping))
	if err != nil {
		t.Fatal(err)
	}
	store, src, err := eventstore.OpenMapped(ctx, db.Pool, m)
	if err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub(live.HubConfig{})
	alerts := live.NewAlerts(db.Pool)
	ledgerStore := ledger.NewStore(db.Pool)
	witness := ledger.NewWriter(ledger.WriterConfig{}, ledgerStore)
	if err := witness.Start(ctx); err != nil {
		t.Fatal(err)
	}
	slot := newLiveSlot(t, db)
	c := live.NewConsumer(live.ConsumerConfig{ConnString: db.ConnString, Slot: slot, Ledger: witness, Source: src,
		Backfill:       ledger.NewBackfill(store, ledgerStore, witness),
		StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond}, db.Pool, hub, alerts)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ttCfg, err := timetravel.ParseConfig([]byte(`{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "inc", "path": "/balance", "from": "/amount"}]}},
		"drift": {"wallet_balances": {"stream_type": "Wallet", "table": "app.wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}}}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := projections.ParseDrift(ttCfg)
	if err != nil {
		t.Fatal(err)
	}
	drift := projections.NewDriftOn(store, dc, nil)
	if err := drift.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deps := Deps{Pool: db.Pool, Store: store, MappedSource: true, LiveHub: hub, LiveConsumer: c, LiveAlerts: alerts,
		LiveResume: live.NewResume(hub, ledgerStore, witness, store), Ledger: ledgerStore, LiveHeartbeat: time.Hour,
		TimeTravel:  timetravel.NewService(store, ttCfg, nil, timetravel.ServiceOptions{SnapshotEvery: 2}),
		Projections: projections.NewMonitor(db.Pool, nil, projections.Options{Store: store, Declared: dc.Names()}),
		Drift:       drift, ProjectionsLiveURL: LagFeedURL,
		SourceSetup: &SourceSetup{Mapping: m, Live: src, Publication: "auditd_events", Slot: slot}}
	b := &bundle{t: t, db: db, store: store, server: New(testConfig, deps)}
	hs := httptest.NewServer(b.server.Handler())
	t.Cleanup(func() {
		hub.Close()
		hs.Close()
		c.Stop()
		witness.Stop()
		drift.Stop()
	})
	return b, hs, insert
}

// Every page a user relies on, through the real router, on each seed
// shape with live on: timeline, state, diff, the live feed (decoded through
// the mapping, numbered like the read path), verification against the
// ledger, projection lag from the application's checkpoints table, the
// per-stream processed flags, drift, a tamper alert, and the setup page.
func TestMappedLivePagesPerShape(t *testing.T) {
	t.Parallel()
	for _, shape := range mappedShapes {
		t.Run(shape.name, func(t *testing.T) {
			t.Parallel()
			b, hs, insert := mappedLiveStack(t, shape)
			var timeline struct {
				Stream eventstore.StreamInfo `json:"stream"`
				Events []struct {
					Version int `json:"version"`
				} `json:"events"`
			}
			b.getJSONInto("/streams/"+mappedWallet, &timeline)
			if timeline.Stream.StreamType != "Wallet" || timeline.Stream.Version != 2 || len(timeline.Events) != 2 {
				t.Fatalf("timeline %+v", timeline)
			}
			feed := openSSE(t, hs.URL+"/live/events?format=json&stream="+mappedWallet, "")
			all := openSSE(t, hs.URL+"/live/events?format=json", "")
			pos := insert("MoneyDeposited", `{"amount": 5}`, 3)
			msg := feed.nextEvent(t)
			var e eventstore.Event
			if err := json.Unmarshal([]byte(msg.Data), &e); err != nil {
				t.Fatalf("live data %q: %v", msg.Data, err)
			}
			if e.Position != pos || e.StreamID != mappedWallet || e.StreamType != "Wallet" || e.Version != 3 || e.EventType != "MoneyDeposited" {
				t.Fatalf("live event %+v, want version 3 at %d", e, pos)
			}
			// The live event is the one the timeline now shows.
			b.getJSONInto("/streams/"+mappedWallet, &timeline)
			if timeline.Stream.Version != 3 || len(timeline.Events) != 3 || timeline.Events[2].Version != 3 {
				t.Fatalf("timeline after the live append %+v", timeline)
			}
			var state stateResponse
			b.getJSONInto("/streams/"+mappedWallet+"/state?version=3", &state)
			if state.State["balance"] != float64(25) {
				t.Errorf("state at v3 = %v", state.State)
			}
			var diff struct {
				Changes []struct {
					Path    string `json:"path"`
					Version int    `json:"version"`
				} `json:"changes"`
			}
			b.getJSONInto("/streams/"+mappedWallet+"/diff?from=v:1&to=v:3", &diff)
			if len(diff.Changes) != 1 || diff.Changes[0].Path != "/balance" || diff.Changes[0].Version != 3 {
				t.Errorf("diff v1..v3 = %+v", diff.Changes)
			}

			var verify ledger.Verification
			pgtest.WaitFor(t, "the ledger to witness the live event", 20*time.Second, func(ctx context.Context) (bool, error) {
				b.getJSONInto("/streams/"+mappedWallet+"/verify", &verify)
				return verify.Checked == 3, nil
			})
			if verify.Status != ledger.StatusIntact {
				t.Fatalf("verify %+v", verify)
			}

			// Lag from the application's checkpoints table, live too.
			b.exec(`INSERT INTO app.projection_positions (name, last_position) VALUES ('wallet_balances', $1)`, pos-1)
			for {
				if m := all.next(t); m.Event == "lag" {
					if !strings.Contains(m.Data, `"wallet_balances"`) {
						t.Fatalf("lag message %s", m.Data)
					}
					break
				}
			}
			var ov projections.Overview
			b.getJSONInto("/projections", &ov)
			if len(ov.Projections) != 1 || ov.Projections[0].Name != "wallet_balances" || ov.Projections[0].LagEvents != 1 || ov.Head.Position != pos {
				t.Fatalf("projections %+v", ov)
			}
			var flags struct {
				Projections []projections.StreamProjectionStatus `json:"projections"`
			}
			b.getJSONInto("/streams/"+mappedWallet+"/projections", &flags)
			if len(flags.Projections) != 1 || flags.Projections[0].Processed || flags.Projections[0].EventsBehind != 1 {
				t.Fatalf("stream projections %+v", flags)
			}
			// The read model holds 25 after the checkpoint's events: at the
			// checkpoint (v2) the fold says 20.
			b.exec(`INSERT INTO app.wallet_balances VALUES ($1, 25)`, mappedWallet)
			var report projections.DriftReport
			b.getJSONInto("/projections/wallet_balances/drift", &report)
			if report.Checkpoint != pos-1 || len(report.Drifted) != 1 || report.Drifted[0].StreamID != mappedWallet ||
				len(report.Drifted[0].Fields) != 1 || report.Drifted[0].Fields[0].Expected != "20" {
				t.Fatalf("drift %+v", report)
			}
			b.exec(`UPDATE app.projection_positions SET last_position = $1`, pos)
			b.getJSONInto("/streams/"+mappedWallet+"/projections", &flags)
			if !flags.Projections[0].Processed {
				t.Fatalf("stream projections after catching up %+v", flags)
			}
			b.getJSONInto("/projections/wallet_balances/drift", &report)
			if len(report.Drifted) != 0 {
				t.Fatalf("drift after catching up %+v", report)
			}

			// An edit of the table: an alert, and verification breaks.
			b.exec(`UPDATE app.events SET `+map[bool]string{true: "payload", false: "data"}[shape.name == "seed-000"]+` = '{"amount": 500}' WHERE `+
				map[bool]string{true: "id", false: "revision"}[shape.name == "seed-000"]+` = $1`, pos)
			for {
				if m := all.next(t); m.Event == "alert" {
					if !strings.Contains(m.Data, `"update"`) {
						t.Fatalf("alert message %s", m.Data)
					}
					break
				}
			}
			pgtest.WaitFor(t, "verification to see the edit", 20*time.Second, func(ctx context.Context) (bool, error) {
				b.getJSONInto("/streams/"+mappedWallet+"/verify", &verify)
				return verify.Status == ledger.StatusBroken, nil
			})
			if verify.FirstBrokenVersion != 3 || verify.Problems[0].Kind != ledger.ProblemChanged {
				t.Fatalf("verify after the edit %+v", verify)
			}

			var su setupSourceResult
			b.getJSONInto("/setup/source", &su)
			if su.Native || su.Table != "app.events" || len(su.Publications) != 1 || !su.Publications[0].Exists || su.Publications[0].Statement != "" ||
				su.Slot == nil || !su.Slot.Exists || !su.Slot.Active {
				t.Fatalf("setup %+v (slot %+v)", su, su.Slot)
			}
			var statements []string
			for _, ix := range su.Indexes {
				statements = append(statements, ix.Statement)
			}
			if !strings.Contains(strings.Join(statements, "\n"), shape.index) {
				t.Fatalf("missing indexes %v, want %s", statements, shape.index)
			}
		})
	}
}
