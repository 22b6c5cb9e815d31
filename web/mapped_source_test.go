package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/timetravel"
)

// Two wallets in a seed-000 table: uuid stream ids, no stream type (the
// mapping's constant), no metadata.
const (
	mappedWallet = "7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10"
	mappedOther  = "0a4e2c9b-1f3d-4e5a-9b6c-7d8e9f0a1b2c"
)

// mappedSetup is a bundle whose store reads a seed-000 table in schema app
// through the source mapping, with time travel on it.
func mappedSetup(t *testing.T) *bundle {
	t.Helper()
	return mappedSetupWith(t, strings.NewReplacer(), "")
}

// mappedSetupWith is mappedSetup with the table's DDL and the mapping
// rewritten by r (a variant of the shape), and then sql run.
func mappedSetupWith(t *testing.T, r *strings.Replacer, sql string) *bundle {
	t.Helper()
	return mappedBundle(t, r.Replace(pgtest.Seed000SQL)+`
			INSERT INTO app.events (aggregate_id, event_type, payload, version, created_at) VALUES
			('`+mappedWallet+`', 'WalletOpened',   '{"owner":"Zoë","balance":0}', 1, '2026-03-01 10:00:00+00'),
			('`+mappedOther+`',  'WalletOpened',   '{"owner":"Ann","balance":0}', 1, '2026-03-01 10:01:00+00'),
			('`+mappedWallet+`', 'MoneyDeposited', '{"balance":20}',              2, '2026-03-01 10:05:00+00'),
			('`+mappedWallet+`', 'MoneyWithdrawn', '{"balance":5}',               3, '2026-03-01 10:09:00+00');`+sql,
		r.Replace(pgtest.Seed000Mapping))
}

// mappedBundle runs sql (a table and its rows) and serves the table through
// the source mapping, with time travel on it.
func mappedBundle(t *testing.T, sql, mapping string) *bundle {
	t.Helper()
	return setup(t, func(d *Deps) {
		ctx := t.Context()
		if _, err := d.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		m, err := eventstore.ParseMapping([]byte(mapping))
		if err != nil {
			t.Fatal(err)
		}
		cat, err := m.Validate(ctx, d.Pool)
		if err != nil {
			t.Fatal(err)
		}
		if d.Store, err = eventstore.NewMapped(d.Pool, m, cat); err != nil {
			t.Fatal(err)
		}
		d.TimeTravel = timetravel.NewService(d.Store, timetravel.DefaultConfig(), nil, timetravel.ServiceOptions{SnapshotEvery: 2})
	})
}

func TestMappedSourceTimeline(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	var got struct {
		Stream eventstore.StreamInfo `json:"stream"`
		Events []struct {
			Version   int    `json:"version"`
			EventType string `json:"event_type"`
		} `json:"events"`
	}
	b.getJSONInto("/streams/"+mappedWallet, &got)
	if got.Stream.StreamID != mappedWallet || got.Stream.StreamType != "Wallet" || got.Stream.Version != 3 || got.Stream.LastType != "MoneyWithdrawn" {
		t.Errorf("stream = %+v", got.Stream)
	}
	var types []string
	for _, e := range got.Events {
		types = append(types, e.EventType)
	}
	if strings.Join(types, ",") != "WalletOpened,MoneyDeposited,MoneyWithdrawn" {
		t.Errorf("timeline = %v", types)
	}
	doc := b.page("/streams/"+mappedWallet, http.StatusOK)
	if !strings.Contains(doc.Text(), "MoneyDeposited") {
		t.Error("the timeline page does not show the events")
	}
	// An id that is no uuid is a stream that does not exist, not an error
	// of the uuid column.
	if rec := b.get("/streams/not-a-uuid", "application/json"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /streams/not-a-uuid: %d %s", rec.Code, rec.Body.String())
	}
}

func TestMappedSourceStateAndBlame(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	var got stateResponse
	b.getJSONInto("/streams/"+mappedWallet+"/state?version=2", &got)
	if got.Version != 2 || got.StreamType != "Wallet" || got.State["owner"] != "Zoë" || got.State["balance"] != float64(20) {
		t.Errorf("state at v2 = v%d %v", got.Version, got.State)
	}
	if bl := got.Blame["/balance"]; bl.Version != 2 || bl.EventType != "MoneyDeposited" {
		t.Errorf("blame of /balance = %+v", bl)
	}
	if o := got.Blame["/owner"]; o.Version != 1 || o.EventType != "WalletOpened" {
		t.Errorf("blame of /owner = %+v", o)
	}
	// State at a time: before the withdrawal.
	b.getJSONInto("/streams/"+mappedWallet+"/state?at="+url.QueryEscape("2026-03-01T10:06:00Z"), &got)
	if got.Version != 2 || got.State["balance"] != float64(20) {
		t.Errorf("state at 10:06 = v%d %v", got.Version, got.State)
	}
}

func TestMappedSourceDiff(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	var got struct {
		FromVersion int `json:"from_version"`
		ToVersion   int `json:"to_version"`
		Changes     []struct {
			Path      string `json:"path"`
			Old       any    `json:"old"`
			New       any    `json:"new"`
			Version   int    `json:"version"`
			EventType string `json:"event_type"`
		} `json:"changes"`
	}
	b.getJSONInto("/streams/"+mappedWallet+"/diff?from=v:1&to=v:3", &got)
	if got.FromVersion != 1 || got.ToVersion != 3 || len(got.Changes) != 1 {
		t.Fatalf("diff = %+v", got)
	}
	c := got.Changes[0]
	if c.Path != "/balance" || c.Old != float64(0) || c.New != float64(5) || c.Version != 3 || c.EventType != "MoneyWithdrawn" {
		t.Errorf("change = %+v", c)
	}
}

func TestMappedSourceGlobalLog(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	var log struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/events", &log)
	if len(log.Events) != 4 || log.Events[0].Position != 4 || log.Events[3].Position != 1 {
		t.Fatalf("log = %+v", log.Events)
	}
	first := log.Events[3]
	if first.StreamID != mappedWallet || first.EventID != "1" || first.StreamType != "Wallet" || string(first.Metadata) != "{}" {
		t.Errorf("first event = %+v", first)
	}
	b.getJSONInto("/events?stream_id="+mappedOther, &log)
	if len(log.Events) != 1 || log.Events[0].StreamID != mappedOther {
		t.Errorf("log of %s = %+v", mappedOther, log.Events)
	}
	b.getJSONInto("/events?event_type=MoneyDeposited", &log)
	if len(log.Events) != 1 || log.Events[0].Version != 2 {
		t.Errorf("deposits = %+v", log.Events)
	}
	doc := b.page("/events/3", http.StatusOK)
	if !strings.Contains(doc.Text(), "MoneyDeposited") {
		t.Error("the event page does not show the event")
	}
	var streams struct {
		Streams []eventstore.StreamInfo `json:"streams"`
	}
	b.getJSONInto("/streams?q=7d1f", &streams)
	if len(streams.Streams) != 1 || streams.Streams[0].StreamID != mappedWallet {
		t.Errorf("streams with prefix 7d1f = %+v", streams.Streams)
	}
}

// A timestamp without time zone is read in the mapping's time_zone, and
// times compare in the column's own type: the wall-clock 10:05 in Paris is
// 09:05Z (CET, March).
func TestMappedSourceTimestampWithoutTimeZone(t *testing.T) {
	t.Parallel()
	b := mappedSetupWith(t, strings.NewReplacer(
		"TIMESTAMP WITH TIME ZONE", "TIMESTAMP",
		`"time_zone": "UTC"`, `"time_zone": "Europe/Paris"`), "")
	var got struct {
		Stream eventstore.StreamInfo `json:"stream"`
		Events []struct {
			Version    int       `json:"version"`
			RecordedAt time.Time `json:"recorded_at"`
		} `json:"events"`
	}
	b.getJSONInto("/streams/"+mappedWallet, &got)
	if len(got.Events) != 3 || !got.Events[1].RecordedAt.Equal(time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)) {
		t.Fatalf("events = %+v", got.Events)
	}
	if !got.Stream.FirstAt.Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || !got.Stream.LastAt.Equal(time.Date(2026, 3, 1, 9, 9, 0, 0, time.UTC)) {
		t.Errorf("stream times = %v .. %v", got.Stream.FirstAt, got.Stream.LastAt)
	}
	var state stateResponse
	b.getJSONInto("/streams/"+mappedWallet+"/state?at="+url.QueryEscape("2026-03-01T09:06:00Z"), &state)
	if state.Version != 2 {
		t.Errorf("state at 09:06Z = v%d, want v2", state.Version)
	}
	var log struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/events?from="+url.QueryEscape("2026-03-01T09:04:00Z"), &log)
	if len(log.Events) != 2 || log.Events[0].Version != 3 || log.Events[1].Version != 2 {
		t.Errorf("log from 09:04Z = %+v", log.Events)
	}
}

// Metadata keys named otherwise (camelCase) are read under the mapping's
// metadata_keys: the actor in the blame, the actor and correlation filters.
func TestMappedSourceRenamedMetadataKeys(t *testing.T) {
	t.Parallel()
	b := mappedSetupWith(t, strings.NewReplacer(
		"payload JSONB NOT NULL,", "payload JSONB NOT NULL, metadata JSONB NOT NULL DEFAULT '{}',",
		`"metadata": null`, `"metadata": "metadata"`,
		`"time_zone": "UTC"`, `"time_zone": "UTC", "metadata_keys": {"actor": "userId", "correlation_id": "correlationId"}`),
		`UPDATE app.events SET metadata = '{"userId": "u-7", "correlationId": "c-1"}' WHERE version = 2;`)
	var state stateResponse
	b.getJSONInto("/streams/"+mappedWallet+"/state?version=3", &state)
	if bl := state.Blame["/owner"]; bl.Version != 1 || bl.Actor != "" {
		t.Errorf("blame of /owner = %+v", bl)
	}
	b.getJSONInto("/streams/"+mappedWallet+"/state?version=2", &state)
	if bl := state.Blame["/balance"]; bl.Version != 2 || bl.Actor != "u-7" {
		t.Errorf("blame of /balance at v2 = %+v, want actor u-7", bl)
	}
	var log struct {
		Events []eventstore.Event `json:"events"`
	}
	for _, q := range []string{"actor=u-7", "correlation_id=c-1"} {
		b.getJSONInto("/events?"+q, &log)
		if len(log.Events) != 1 || log.Events[0].Version != 2 || !strings.Contains(string(log.Events[0].Metadata), `"userId":"u-7"`) {
			t.Errorf("/events?%s = %+v", q, log.Events)
		}
	}
}

// Every read page and export answers on a mapped table, and bad ids are
// 4xx, never a 500 from a uuid column.
func TestMappedSourcePagesAnswerWithoutServerErrors(t *testing.T) {
	t.Parallel()
	b := mappedSetup(t)
	paths := map[string]int{
		"/": http.StatusOK, "/streams": http.StatusOK, "/streams?event_type=MoneyDeposited": http.StatusOK,
		"/streams?type=Wallet": http.StatusOK, "/streams?q=zz": http.StatusOK,
		"/streams/" + mappedWallet + "/export.csv": http.StatusOK, "/streams/" + mappedWallet + "/export.json": http.StatusOK,
		"/streams/" + mappedWallet + "?from=" + url.QueryEscape("2026-03-01T10:04:00Z"): http.StatusOK,
		"/events/2": http.StatusOK, "/events/99": http.StatusNotFound,
		"/streams/not-a-uuid/state?version=1":      http.StatusNotFound,
		"/streams/not-a-uuid/diff?from=v:1&to=v:2": http.StatusNotFound,
		"/streams/not-a-uuid/export.csv":           http.StatusNotFound,
		"/events?stream_id=not-a-uuid":             http.StatusOK,
	}
	for path, want := range paths {
		if rec := b.get(path, "text/html"); rec.Code != want {
			t.Errorf("GET %s: %d, want %d: %.300s", path, rec.Code, want, rec.Body.String())
		}
	}
	var streams struct {
		Streams []eventstore.StreamInfo `json:"streams"`
	}
	b.getJSONInto("/streams?event_type=MoneyWithdrawn", &streams)
	if len(streams.Streams) != 1 || streams.Streams[0].StreamID != mappedWallet {
		t.Errorf("streams with a withdrawal = %+v", streams.Streams)
	}
}

// seed002Setup is a bundle reading a seed-002 table: two orders whose
// events interleave in the global order (revision), so that versions are
// numbered per stream, not by revision.
func seed002Setup(t *testing.T) *bundle {
	t.Helper()
	return mappedBundle(t, pgtest.Seed002SQL+`
		INSERT INTO app.events (aggregate_id, aggregate_type, event_type, event_version, data, metadata, revision, created_at) VALUES
		('`+mappedWallet+`', 'Order', 'OrderPlaced',   1, '{"status":"placed","total":30}', '{"userId":"u-1","correlationId":"c-9"}', 10, '2026-03-01 10:00:00'),
		('`+mappedOther+`',  'Order', 'OrderPlaced',   1, '{"status":"placed","total":5}',  '{}',                                      11, '2026-03-01 10:01:00'),
		('`+mappedWallet+`', 'Order', 'OrderPaid',     2, '{"status":"paid"}',              '{"userId":"u-2"}',                        12, '2026-03-01 10:02:00'),
		('`+mappedWallet+`', 'Order', 'OrderShipped',  1, '{"status":"shipped"}',           '{"userId":"u-3"}',                        15, '2026-03-01 10:03:00');`,
		pgtest.Seed002Mapping)
}

// Seed 002 has no per-stream version: each stream's events are numbered
// 1, 2, … in global order, and state, blame, diff and the log follow.
func TestSeed002NumbersVersionsPerStream(t *testing.T) {
	t.Parallel()
	b := seed002Setup(t)
	var got struct {
		Stream eventstore.StreamInfo `json:"stream"`
		Events []struct {
			Version       int    `json:"version"`
			Position      int64  `json:"position"`
			EventType     string `json:"event_type"`
			SchemaVersion int    `json:"schema_version"`
		} `json:"events"`
	}
	b.getJSONInto("/streams/"+mappedWallet, &got)
	if got.Stream.StreamType != "Order" || got.Stream.Version != 3 || got.Stream.LastPosition != 15 || len(got.Events) != 3 {
		t.Fatalf("timeline = %+v", got)
	}
	for i, e := range got.Events {
		if e.Version != i+1 {
			t.Errorf("event %d (position %d) has version %d", i, e.Position, e.Version)
		}
	}
	if got.Events[1].SchemaVersion != 2 {
		t.Errorf("schema version of OrderPaid = %d", got.Events[1].SchemaVersion)
	}
	var page struct {
		Events []struct {
			Version int `json:"version"`
		} `json:"events"`
	}
	b.getJSONInto("/streams/"+mappedWallet+"?after=1", &page)
	if len(page.Events) != 2 || page.Events[0].Version != 2 {
		t.Errorf("page after v1 = %+v", page.Events)
	}
	var state stateResponse
	b.getJSONInto("/streams/"+mappedWallet+"/state?version=2", &state)
	if state.State["status"] != "paid" || state.State["total"] != float64(30) {
		t.Errorf("state at v2 = %v", state.State)
	}
	if bl := state.Blame["/status"]; bl.Version != 2 || bl.Actor != "u-2" || bl.Position != 12 {
		t.Errorf("blame of /status = %+v", bl)
	}
	var diff struct {
		Changes []struct {
			Path    string `json:"path"`
			Version int    `json:"version"`
		} `json:"changes"`
	}
	b.getJSONInto("/streams/"+mappedWallet+"/diff?from=v:2&to=v:3", &diff)
	if len(diff.Changes) != 1 || diff.Changes[0].Path != "/status" || diff.Changes[0].Version != 3 {
		t.Errorf("diff v2..v3 = %+v", diff.Changes)
	}
	var log struct {
		Events []eventstore.Event `json:"events"`
	}
	b.getJSONInto("/events?correlation_id=c-9", &log)
	if len(log.Events) != 1 || log.Events[0].Position != 10 || log.Events[0].Version != 1 {
		t.Errorf("log of c-9 = %+v", log.Events)
	}
	b.getJSONInto("/events", &log)
	if len(log.Events) != 4 || log.Events[0].Position != 15 || log.Events[0].Version != 3 || log.Events[1].Version != 2 {
		t.Errorf("log = %+v", log.Events)
	}
	var streams struct {
		Streams []eventstore.StreamInfo `json:"streams"`
	}
	b.getJSONInto("/streams?type=Order", &streams)
	if len(streams.Streams) != 2 {
		t.Errorf("streams = %+v", streams.Streams)
	}
}

// Snapshots are keyed by the mapping too: states folded through another
// mapping of the same table are not reused.
func TestMappedSourceSnapshotKeyIncludesTheMapping(t *testing.T) {
	t.Parallel()
	wallet := mappedSetup(t)
	purse := mappedSetupWith(t, strings.NewReplacer(`"stream_type": "Wallet"`, `"stream_type": "Purse"`), "")
	native := timetravel.DefaultConfig().Fingerprint()
	a, b := wallet.server.deps.TimeTravel.Fingerprint(), purse.server.deps.TimeTravel.Fingerprint()
	if a == native || b == native || a == b {
		t.Errorf("snapshot keys: native %s, Wallet mapping %s, Purse mapping %s; want three different", native, a, b)
	}
	again := mappedSetup(t)
	if again.server.deps.TimeTravel.Fingerprint() != a {
		t.Error("the same mapping keys snapshots differently")
	}
}
