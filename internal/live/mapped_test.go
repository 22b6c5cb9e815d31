package live

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/pgtest"
)

const (
	mappedStream = "7d1f0c3e-9a4b-4c41-8a57-2f6f1d0e5b10"
	otherStream  = "0a4e2c9b-1f3d-4e5a-9b6c-7d8e9f0a1b2c"
)

// mappedLive is a consumer witnessing an application's table in schema
// app, read through a source mapping, and a subscriber of its hub.
type mappedLive struct {
	db     *pgtest.DB
	store  *eventstore.Store
	src    *eventstore.LiveSource
	hub    *Hub
	sub    *Subscription
	ledger *ledger.Writer
	c      *Consumer
}

// startMapped creates the table (sql), runs before (rows that precede the
// slot: the back-fill witnesses them), and starts a consumer with a ledger
// on the mapping.
func startMapped(t *testing.T, sql, mapping, before string) *mappedLive {
	t.Helper()
	ctx := t.Context()
	b := &mappedLive{db: pgtest.NewDB(t), hub: NewHub(HubConfig{})}
	if _, err := b.db.Pool.Exec(ctx, sql+before); err != nil {
		t.Fatal(err)
	}
	m, err := eventstore.ParseMapping([]byte(mapping))
	if err != nil {
		t.Fatal(err)
	}
	if b.store, b.src, err = eventstore.OpenMapped(ctx, b.db.Pool, m); err != nil {
		t.Fatal(err)
	}
	b.ledger = startLedger(t, b.db.Pool)
	backfill := ledger.NewBackfill(b.store, ledger.NewStore(b.db.Pool), b.ledger)
	b.sub, _ = b.hub.Subscribe(Filter{}, nil)
	b.c = startConsumer(t, b.db.Pool, b.db.ConnString, testSlot(), b.hub, func(c *ConsumerConfig) {
		c.Source, c.Ledger, c.Backfill = b.src, b.ledger, backfill
	})
	return b
}

// verify checks a stream against the ledger once it holds everything the
// consumer processed.
func (b *mappedLive) verify(t *testing.T, stream string) ledger.Verification {
	t.Helper()
	if !b.ledger.WaitWritten(t.Context()) {
		t.Fatal("ledger not written")
	}
	v, err := ledger.NewStore(b.db.Pool).VerifyStream(t.Context(), b.store, stream)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// nextAlert skips events and lag messages.
func nextAlert(t *testing.T, s *Subscription) *Alert {
	t.Helper()
	for {
		if m := next(t, s); m.Kind == KindAlert {
			return m.Alert
		}
	}
}

// Seed 000: a bigserial position, uuid stream ids, a constant stream type,
// no metadata, in a schema other than public. Live events come decoded
// through the mapping, the ledger witnesses them (and the back-filled
// ones), and an UPDATE, a DELETE and a TRUNCATE of the table are alerts.
func TestMappedLiveSeed000(t *testing.T) {
	t.Parallel()
	b := startMapped(t, pgtest.Seed000SQL, pgtest.Seed000Mapping, `
		INSERT INTO app.events (aggregate_id, event_type, payload, version, created_at) VALUES
		('`+mappedStream+`', 'WalletOpened', '{"owner":"Zoë"}', 1, '2026-03-01 10:00:00+00');`)
	ctx := t.Context()
	var pos int64
	if err := b.db.Pool.QueryRow(ctx, `INSERT INTO app.events (aggregate_id, event_type, payload, version, created_at)
		VALUES ($1, 'MoneyDeposited', '{"balance": 20}', 2, '2026-03-01 10:05:00.25+00') RETURNING id`, mappedStream).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	e := nextEvent(t, b.sub).Event
	want := time.Date(2026, 3, 1, 10, 5, 0, 250_000_000, time.UTC)
	if e.Position != pos || e.EventID != strconv.FormatInt(pos, 10) || e.StreamID != mappedStream || e.StreamType != "Wallet" || e.Version != 2 ||
		e.EventType != "MoneyDeposited" || e.SchemaVersion != 1 || string(e.Metadata) != "{}" || !e.RecordedAt.Equal(want) ||
		string(e.Payload) != `{"balance": 20}` {
		t.Fatalf("live event %+v", e)
	}
	read, err := b.store.Event(ctx, pos)
	if err != nil {
		t.Fatal(err)
	}
	if read.EventID != e.EventID || read.Version != e.Version || !read.RecordedAt.Equal(e.RecordedAt) || read.StreamType != e.StreamType {
		t.Fatalf("live event %+v, read path %+v", e, read)
	}
	if v := b.verify(t, mappedStream); v.Status != ledger.StatusIntact || v.Checked != 2 {
		t.Fatalf("verification %+v, want both events intact", v)
	}

	// A mapped table has no trigger of auditd's: an edit simply happens,
	// and the WAL shows it.
	if _, err := b.db.Pool.Exec(ctx, `UPDATE app.events SET payload = '{"balance": 2000}' WHERE id = $1`, pos); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, b.sub); a.Kind != "update" || a.Rows != 1 || len(a.Positions) != 1 || a.Positions[0] != pos || a.ID == 0 {
		t.Fatalf("alert %+v, want a stored update alert on %d", a, pos)
	}
	if v := b.verify(t, mappedStream); v.Status != ledger.StatusBroken || v.FirstBrokenVersion != 2 || v.Problems[0].Kind != ledger.ProblemChanged {
		t.Fatalf("verification after an edit %+v, want version 2 changed", v)
	}
	if _, err := b.db.Pool.Exec(ctx, `DELETE FROM app.events WHERE id = $1`, pos); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, b.sub); a.Kind != "delete" || a.Rows != 1 || len(a.Positions) != 1 || a.Positions[0] != pos {
		t.Fatalf("alert %+v, want a delete alert on %d (the key is the position)", a, pos)
	}
	if _, err := b.db.Pool.Exec(ctx, `TRUNCATE app.events`); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, b.sub); a.Kind != "truncate" || a.ID == 0 {
		t.Fatalf("alert %+v, want a stored truncate alert", a)
	}
	stored, err := NewAlerts(b.db.Pool).Recent(ctx, 10)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored alerts %+v, %v; want three", stored, err)
	}
	// The application's own writes never failed: its table is published
	// with its primary key as replica identity.
	var pubs []string
	rows, _ := b.db.Pool.Query(ctx, `SELECT pubname || ' ' || schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		pubs = append(pubs, s)
	}
	if strings.Join(pubs, ",") != "auditd_events app.events" {
		t.Fatalf("publications %v, want auditd_events on app.events", pubs)
	}
}

// Seed 002: uuid event ids, revision as position, no per-stream version,
// camelCase metadata, times without time zone read in the source's zone.
// Live versions are numbered as the read path numbers them, also across
// streams interleaved in one transaction and after a restart's back-fill.
func TestMappedLiveSeed002(t *testing.T) {
	t.Parallel()
	mapping := strings.Replace(pgtest.Seed002Mapping, `"time_zone": "UTC"`, `"time_zone": "Europe/Paris"`, 1)
	b := startMapped(t, pgtest.Seed002SQL, mapping, `
		INSERT INTO app.events (aggregate_id, aggregate_type, event_type, data, metadata, revision, created_at) VALUES
		('`+mappedStream+`', 'Order', 'OrderPlaced', '{"total": 10}', '{"userId": "ann"}', 10, '2026-03-01 11:00:00'),
		('`+otherStream+`', 'Order', 'OrderPlaced', '{"total": 5}', '{}', 11, '2026-03-01 11:01:00');`)
	ctx := t.Context()
	if _, err := b.db.Pool.Exec(ctx, `
		INSERT INTO app.events (aggregate_id, aggregate_type, event_type, event_version, data, metadata, revision, created_at) VALUES
		($1, 'Order', 'ItemAdded', 2, '{"sku": "x"}', '{"correlationId": "c-1", "causationId": "e-0", "userId": "bob"}', 12, '2026-03-01 11:02:00.5'),
		($2, 'Order', 'ItemAdded', 1, '{"sku": "y"}', '{}', 13, '2026-03-01 11:03:00'),
		($1, 'Order', 'OrderPaid', 1, '{"paid": true}', '{}', 14, '2026-03-01 11:04:00')`, mappedStream, otherStream); err != nil {
		t.Fatal(err)
	}
	var live []eventstore.Event
	for range 3 {
		live = append(live, *nextEvent(t, b.sub).Event)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	first := live[0]
	meta := first.Meta()
	if first.Position != 12 || first.StreamType != "Order" || first.SchemaVersion != 2 || meta.CorrelationID != "c-1" || meta.CausationID != "e-0" ||
		meta.Actor != "bob" || !first.RecordedAt.Equal(time.Date(2026, 3, 1, 11, 2, 0, 500_000_000, paris)) {
		t.Fatalf("live event %+v (meta %+v)", first, meta)
	}
	for _, e := range live {
		read, err := b.store.Event(ctx, e.Position)
		if err != nil {
			t.Fatal(err)
		}
		if read.Version != e.Version || read.EventID != e.EventID || !read.RecordedAt.Equal(e.RecordedAt) || read.StreamID != e.StreamID {
			t.Errorf("live %d: version %d id %s at %s; read path: version %d id %s at %s",
				e.Position, e.Version, e.EventID, e.RecordedAt, read.Version, read.EventID, read.RecordedAt)
		}
	}
	if live[0].Version != 2 || live[1].Version != 2 || live[2].Version != 3 {
		t.Fatalf("versions %d %d %d, want 2 2 3", live[0].Version, live[1].Version, live[2].Version)
	}
	for _, s := range []string{mappedStream, otherStream} {
		if v := b.verify(t, s); v.Status != ledger.StatusIntact || v.Pending != 0 {
			t.Fatalf("verification of %s: %+v, want intact", s, v)
		}
	}
	// An event committed out of position order renumbers the stream, in
	// the read path and live alike.
	if _, err := b.db.Pool.Exec(ctx, `INSERT INTO app.events (aggregate_id, aggregate_type, event_type, data, metadata, revision)
		VALUES ($1, 'Order', 'Late', '{}', '{}', 15), ($1, 'Order', 'Later', '{}', '{}', 16)`, otherStream); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{3, 4} {
		if e := nextEvent(t, b.sub).Event; e.Version != want {
			t.Fatalf("event %d version %d, want %d", e.Position, e.Version, want)
		}
	}
	if _, err := b.db.Pool.Exec(ctx, `UPDATE app.events SET data = '{"total": 1}' WHERE revision = 10`); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, b.sub); a.Kind != "update" || a.Rows != 1 || len(a.Positions) != 1 || a.Positions[0] != 10 {
		t.Fatalf("alert %+v, want an update alert on revision 10", a)
	}
	if v := b.verify(t, mappedStream); v.Status != ledger.StatusBroken || v.FirstBrokenVersion != 1 {
		t.Fatalf("verification after the edit %+v", v)
	}
	// The key is the uuid id: a DELETE's old row names no revision.
	if _, err := b.db.Pool.Exec(ctx, `DELETE FROM app.events WHERE revision = 16`); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, b.sub); a.Kind != "delete" || a.Rows != 1 {
		t.Fatalf("alert %+v, want a delete alert", a)
	}
}

// mappedSource reads the seed-000 table (sql: its DDL) through a store on
// pool.
func mappedSource(t *testing.T, db *pgtest.DB, sql string) (*eventstore.Store, *eventstore.LiveSource) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
	m, err := eventstore.ParseMapping([]byte(pgtest.Seed000Mapping))
	if err != nil {
		t.Fatal(err)
	}
	store, src, err := eventstore.OpenMapped(ctx, db.Pool, m)
	if err != nil {
		t.Fatal(err)
	}
	return store, src
}

// A role that does not own the table (SELECT and REPLICATION only) may not
// create the publication: Start says the exact statement, and once a DBA
// ran it live works with that role.
func TestMappedLiveWithoutOwnershipNamesTheStatement(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), pgtest.Seed000SQL); err != nil {
		t.Fatal(err)
	}
	_, conn := db.Role(t, "REPLICATION", `GRANT USAGE ON SCHEMA app TO %s; GRANT SELECT ON app.events TO %s; GRANT USAGE ON SCHEMA auditd TO %s`)
	pool, err := pgxpool.New(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	roDB := &pgtest.DB{Name: db.Name, ConnString: conn, Pool: pool}
	_, src := mappedSource(t, roDB, `SELECT 1`)
	if src.MayCreatePublications() {
		t.Fatal("a role with SELECT only may create the publication?")
	}
	hub := NewHub(HubConfig{})
	slot := testSlot()
	c := NewConsumer(ConsumerConfig{ConnString: conn, Slot: slot, Source: src}, pool, hub, nil)
	err = c.Start(t.Context())
	var pubErr *PublicationError
	if !errors.As(err, &pubErr) || len(pubErr.Statements) != 1 || pubErr.Statements[0] != `CREATE PUBLICATION "auditd_events" FOR TABLE app.events;` {
		t.Fatalf("start: %v, want the CREATE PUBLICATION statement", err)
	}
	// The DBA runs it.
	if _, err := db.Pool.Exec(t.Context(), pubErr.Statements[0]); err != nil {
		t.Fatal(err)
	}
	startConsumer(t, pool, conn, slot, hub, func(cfg *ConsumerConfig) { cfg.Source = src })
	sub, _ := hub.Subscribe(Filter{}, nil)
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ($1, 'WalletOpened', '{}', 1)`, mappedStream); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, sub).Event; e.StreamID != mappedStream || e.Version != 1 {
		t.Fatalf("live event %+v", e)
	}
}

// A table without a replica identity is published for inserts and
// truncates only: the application's UPDATE and DELETE still succeed, and
// live still sees its inserts and a TRUNCATE.
func TestMappedLiveTableWithoutPrimaryKey(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	_, src := mappedSource(t, db, strings.Replace(pgtest.Seed000SQL, "BIGSERIAL PRIMARY KEY", "BIGSERIAL NOT NULL", 1))
	hub := NewHub(HubConfig{})
	startConsumer(t, db.Pool, db.ConnString, testSlot(), hub, func(cfg *ConsumerConfig) { cfg.Source = src })
	sub, _ := hub.Subscribe(Filter{}, nil)
	ctx := t.Context()
	var pub string
	var upd, del, trunc bool
	if err := db.Pool.QueryRow(ctx, `SELECT pubname, pubupdate, pubdelete, pubtruncate FROM pg_publication p JOIN pg_publication_tables t USING (pubname)
		WHERE t.schemaname = 'app'`).Scan(&pub, &upd, &del, &trunc); err != nil {
		t.Fatal(err)
	}
	if pub != "auditd_events_inserts" || upd || del || !trunc {
		t.Fatalf("publication %s update=%t delete=%t truncate=%t", pub, upd, del, trunc)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO app.events (aggregate_id, event_type, payload, version) VALUES ($1, 'WalletOpened', '{}', 1)`, mappedStream); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, sub).Event; e.StreamID != mappedStream {
		t.Fatalf("live event %+v", e)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE app.events SET payload = '{"x": 1}'; DELETE FROM app.events`); err != nil {
		t.Fatalf("the application's UPDATE/DELETE fail: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `TRUNCATE app.events`); err != nil {
		t.Fatal(err)
	}
	if a := nextAlert(t, sub); a.Kind != "truncate" {
		t.Fatalf("alert %+v, want the truncate (updates and deletes are not published)", a)
	}
}

// Seed 004 has no global position: live events carry its uuid id as their
// address. The source's where and exclude_streams filter live rows as
// they filter the read path: an archived row and an excluded stream never
// reach the feed.
func TestMappedLiveSeed004WithFilters(t *testing.T) {
	t.Parallel()
	mapping := strings.Replace(pgtest.Seed004Mapping, `"time_zone": "UTC"`,
		`"time_zone": "UTC", "where": {"is_archived": false}, "exclude_streams": {"prefix": ["0a4e"]}`, 1)
	b := startMapped(t, pgtest.Seed004SQL+`ALTER TABLE app.events ADD COLUMN is_archived boolean NOT NULL DEFAULT false;`, mapping, "")
	ctx := t.Context()
	for _, ins := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO app.events (aggregate_id, event_type, event_data, version, is_archived) VALUES ($1, 'Archived', '{}', 1, true)`, []any{mappedStream}},
		{`INSERT INTO app.events (aggregate_id, event_type, event_data, version) VALUES ($1, 'Housekeeping', '{}', 1)`, []any{otherStream}},
		{`INSERT INTO app.events (id, aggregate_id, event_type, event_data, version, timestamp)
			VALUES ('5f0e3a52-8a3e-4a43-9a1f-1d2c3b4a5e6f', $1, 'AccountOpened', '{"owner": "ann"}', 2, '2026-03-01 10:00:00')`, []any{mappedStream}},
	} {
		if _, err := b.db.Pool.Exec(ctx, ins.sql, ins.args...); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.c.Stats(); st.LastError != "" {
		t.Fatalf("consumer: %s", st.LastError)
	}
	e := nextEvent(t, b.sub).Event
	if e.EventID != "5f0e3a52-8a3e-4a43-9a1f-1d2c3b4a5e6f" || e.Position != 0 || e.StreamType != "Account" || e.Version != 2 ||
		!e.RecordedAt.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("live event %+v, want the kept row only", e)
	}
	read, err := b.store.EventByID(ctx, e.EventID)
	if err != nil || read.Version != e.Version || read.StreamID != e.StreamID {
		t.Fatalf("read path %+v, %v", read, err)
	}
	if m := pendingMessage(b.sub); m != nil {
		t.Fatalf("unexpected message %+v (%+v)", m, m.Event)
	}
}
