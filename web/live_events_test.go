package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

var liveSlotSeq atomic.Int64

// liveStack is auditd's live path on a test database: consumer, hub and a
// real HTTP server.
type liveStack struct {
	banners  *BannerRefresher
	hub      *live.Hub
	consumer *live.Consumer
	witness  *ledger.Writer
	server   *Server
	http     *httptest.Server
}

// startLive starts the live path on db with slot; stop ends it early (an
// auditd restart), otherwise it ends with the test.
func startLive(t *testing.T, db *pgtest.DB, slot string, hubCfg live.HubConfig) (st *liveStack, stop func()) {
	t.Helper()
	hub := live.NewHub(hubCfg)
	alerts := live.NewAlerts(db.Pool)
	// As serve runs it: with the witness ledger, its back-fill and the
	// resume from it.
	store := eventstore.New(db.Pool)
	ledgerStore := ledger.NewStore(db.Pool)
	witness := ledger.NewWriter(ledger.WriterConfig{}, ledgerStore)
	if err := witness.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := live.NewConsumer(live.ConsumerConfig{ConnString: db.ConnString, Slot: slot, Ledger: witness,
		Backfill:       ledger.NewBackfill(store, ledgerStore, witness),
		StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond}, db.Pool, hub, alerts)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	banners := NewBannerRefresher(nil, time.Hour, AlertBanners(alerts), LedgerBanners(witness))
	if err := banners.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(banners.Stop)
	audit := ledger.NewAuditor(ledgerStore, store, ledger.AuditConfig{Every: -1, OnBroken: alerts.RecordVerification})
	if err := audit.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(audit.Stop)
	checkpoints := ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: testSigningKey, Interval: -1}, ledgerStore)
	srv := New(testConfig, Deps{Pool: db.Pool, Store: store, LiveHub: hub, LiveConsumer: c, LiveResume: live.NewResume(hub, ledgerStore, witness, store), Ledger: ledgerStore,
		LedgerAudit: audit, LiveAlerts: alerts, Banners: banners, LiveHeartbeat: time.Hour, Checkpoints: checkpoints})
	hs := httptest.NewServer(srv.Handler())
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		hub.Close() // ends the SSE handlers, as serve does on shutdown
		hs.Close()
		c.Stop()
		witness.Stop()
	}
	t.Cleanup(stop)
	return &liveStack{banners: banners, hub: hub, consumer: c, witness: witness, server: srv, http: hs}, stop
}

// newLiveSlot names a slot and drops it when the test ends (after the
// consumers stop: cleanups run in reverse order).
func newLiveSlot(t *testing.T, db *pgtest.DB) string {
	slot := fmt.Sprintf("web_live_%d", liveSlotSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot)
	})
	return slot
}

type sseMsg struct {
	ID, Event, Data string
}

// sseClient reads an SSE response the way EventSource does.
type sseClient struct {
	resp *http.Response
	msgs chan sseMsg
}

// openSSE connects and returns once the server confirmed the subscription.
func openSSE(t *testing.T, url, lastEventID string) *sseClient {
	t.Helper()
	return openSSEThrough(t, url, lastEventID, nil)
}

// openSSEThrough is openSSE reading the body through gate (nil: directly).
func openSSEThrough(t *testing.T, url, lastEventID string, gate *readGate) *sseClient {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, msgs: make(chan sseMsg, 10000)}
	subscribed := make(chan struct{})
	go func() {
		defer close(c.msgs)
		var body io.Reader = resp.Body
		if gate != nil {
			body = gate.reader(resp.Body)
		}
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<24)
		var m sseMsg
		var data []string
		once := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.Event != "" || len(data) > 0 {
					m.Data = strings.Join(data, "\n")
					c.msgs <- m
				}
				m, data = sseMsg{}, nil
			case strings.HasPrefix(line, ":"):
				if !once && strings.Contains(line, "subscribed") {
					once = true
					close(subscribed)
				}
			case strings.HasPrefix(line, "id: "):
				m.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
		if !once {
			close(subscribed)
		}
	}()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription comment")
	}
	return c
}

// next returns the next message, failing after 10 s or at the end.
func (c *sseClient) next(t *testing.T) sseMsg {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatal("SSE stream ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no SSE message within 10 s")
	}
	return sseMsg{}
}

// nextEvent skips lag and alert messages.
func (c *sseClient) nextEvent(t *testing.T) sseMsg {
	t.Helper()
	for {
		if m := c.next(t); m.Event != "lag" && m.Event != "alert" {
			return m
		}
	}
}

// rowPosition parses an HTML event fragment: exactly one <article>.
func rowPosition(t *testing.T, html string) (string, *goquery.Document) {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Find("body").Children()
	if body.Length() != 1 || goquery.NodeName(body) != "article" {
		t.Fatalf("fragment is not exactly one <article>: %s", html)
	}
	return body.AttrOr("data-position", ""), doc
}

func sqlInsert(t *testing.T, db *pgtest.DB, stream string, version int) int64 {
	t.Helper()
	var pos int64
	err := db.Pool.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
		VALUES ($1, 'wallet', $2, 'FundsDeposited', '{"amount": 5, "note": "<b>hi</b>"}', '{"actor": "alice"}') RETURNING position`,
		stream, version).Scan(&pos)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	return pos
}

func TestLiveEventsInsertReachesClient(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	htmlc := openSSE(t, st.http.URL+"/live/events", "")
	jsonc := openSSE(t, st.http.URL+"/live/events?format=json", "")
	pos := sqlInsert(t, db, "wallet-7", 1)

	m := htmlc.nextEvent(t)
	if m.Event != "event" || m.ID == "" {
		t.Fatalf("message %+v", m)
	}
	got, doc := rowPosition(t, m.Data)
	if got != fmt.Sprint(pos) {
		t.Fatalf("fragment position %s, want %d", got, pos)
	}
	if !doc.Find("article").HasClass("event-new") || doc.Find("[data-testid=stream-link]").AttrOr("href", "") != "/streams/wallet-7" {
		t.Fatalf("fragment lacks the new mark or stream link: %s", m.Data)
	}
	// The pretty-printed payload spans several data: lines, joined back.
	if pre := doc.Find("[data-testid=payload]").Text(); !strings.Contains(pre, "\n") || !strings.Contains(pre, "<b>hi</b>") {
		t.Fatalf("payload %q", pre)
	}
	if strings.Contains(m.Data, "<b>hi</b>") {
		t.Fatal("payload HTML not escaped")
	}

	j := jsonc.nextEvent(t)
	var ev map[string]any
	if err := json.Unmarshal([]byte(j.Data), &ev); err != nil {
		t.Fatalf("json data %q: %v", j.Data, err)
	}
	for _, k := range []string{"position", "event_id", "stream_id", "stream_type", "version", "event_type", "schema_version", "payload", "metadata", "recorded_at"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("JSON event lacks %s: %s", k, j.Data)
		}
	}
	if ev["position"] != float64(pos) || j.ID != m.ID {
		t.Fatalf("json %v id %s, html id %s", ev, j.ID, m.ID)
	}
}

func TestLiveEventsFiltersAndBadInput(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	byStream := openSSE(t, st.http.URL+"/live/events?format=json&stream_id=wallet-2", "")
	byType := openSSE(t, st.http.URL+"/live/events?format=json&event_type=Other&stream_type=wallet", "")
	sqlInsert(t, db, "wallet-1", 1)
	want := sqlInsert(t, db, "wallet-2", 1)
	var other int64
	if err := db.Pool.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload) VALUES ('wallet-3', 'wallet', 1, 'Other', '{}') RETURNING position`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	var e eventstore.Event
	if err := json.Unmarshal([]byte(byStream.nextEvent(t).Data), &e); err != nil || e.Position != want {
		t.Fatalf("stream filter delivered %+v, %v", e, err)
	}
	if err := json.Unmarshal([]byte(byType.nextEvent(t).Data), &e); err != nil || e.Position != other {
		t.Fatalf("type filter delivered %+v, %v", e, err)
	}

	for _, path := range []string{"/live/events?format=xml", "/live/events?last_event_id=nonsense"} {
		resp, err := http.Get(st.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, resp.StatusCode)
		}
	}
	off := setup(t)
	if rec := off.get("/live/events", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("without a hub: %d, want 503", rec.Code)
	}
}

func TestLiveEventsResumeAndResync(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{Window: 3})
	c := openSSE(t, st.http.URL+"/live/events?format=json", "")
	var ids []string
	for v := 1; v <= 5; v++ {
		sqlInsert(t, db, "w", v)
		ids = append(ids, c.nextEvent(t).ID)
	}
	// Within the window: exactly the events after the cursor.
	r := openSSE(t, st.http.URL+"/live/events?format=json&last_event_id="+ids[2], "")
	if a, b := r.nextEvent(t), r.nextEvent(t); a.ID != ids[3] || b.ID != ids[4] {
		t.Fatalf("resumed with %s, %s; want %s, %s", a.ID, b.ID, ids[3], ids[4])
	}
	// Out of the window: the ledger and the table fill the gap, then the
	// window, then live.
	old := openSSE(t, st.http.URL+"/live/events?format=json", ids[0])
	for i := 1; i < len(ids); i++ {
		if m := old.nextEvent(t); m.ID != ids[i] {
			t.Fatalf("old cursor: #%d is %s, want %s", i, m.ID, ids[i])
		}
	}
	sqlInsert(t, db, "w", 6)
	if m, n := old.nextEvent(t), c.nextEvent(t); m.ID != n.ID {
		t.Fatalf("old cursor then live got %s, want %s", m.ID, n.ID)
	}
	// A cursor the ledger never had: resync, then the server closes.
	unknown := openSSE(t, st.http.URL+"/live/events", "0000000000000001-0")
	if m := unknown.next(t); m.Event != "resync" {
		t.Fatalf("unknown cursor got %+v, want resync", m)
	}
	if _, ok := <-unknown.msgs; ok {
		t.Fatal("stream not closed after resync")
	}
	// A cursor older than the retention (its entry pruned): resync too.
	pgtest.WaitFor(t, "the ledger to hold every event", 20*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).VerifyChain(ctx)
		return n == 6, err
	})
	if an, err := ledger.NewStore(db.Pool).Prune(t.Context(), time.Now().Add(time.Hour)); err != nil || an == nil || an.Entries != 5 {
		t.Fatalf("Prune = %+v, %v", an, err)
	}
	pruned := openSSE(t, st.http.URL+"/live/events", ids[0])
	if m := pruned.next(t); m.Event != "resync" {
		t.Fatalf("cursor older than the retention got %+v, want resync", m)
	}
}

// TestLiveEventsAuditdRestartMidStream stops auditd's live path while a
// client is behind, writes while it is down, starts a new one on the same
// slot, and resumes the client with its Last-Event-ID.
func TestLiveEventsAuditdRestartMidStream(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	slot := newLiveSlot(t, db)
	st1, stop1 := startLive(t, db, slot, live.HubConfig{})
	c1 := openSSE(t, st1.http.URL+"/live/events?format=json", "")

	var want []int64
	for v := 1; v <= 5; v++ {
		want = append(want, sqlInsert(t, db, "w", v))
	}
	var lastID string
	for range 3 {
		lastID = c1.nextEvent(t).ID
	}
	// Events 4 and 5 reached the hub but not (as far as the client knows)
	// the client.
	probe, _ := st1.hub.Subscribe(live.Filter{}, nil)
	for v := 6; v <= 7; v++ {
		pos := sqlInsert(t, db, "w", v)
		want = append(want, pos)
		var got []*live.Message
		for len(got) == 0 || got[len(got)-1].Event.Position != pos {
			select {
			case <-probe.Wake():
				got = probe.Take(got)
			case <-time.After(10 * time.Second):
				t.Fatal("hub did not get the event")
			}
		}
	}
	stop1()
	// Committed while auditd is down.
	for v := 8; v <= 10; v++ {
		want = append(want, sqlInsert(t, db, "w", v))
	}

	st2, _ := startLive(t, db, slot, live.HubConfig{})
	c2 := openSSE(t, st2.http.URL+"/live/events?format=json", lastID)
	want = append(want, sqlInsert(t, db, "w", 11)) // after the restart
	var e eventstore.Event
	for i, pos := range want[3:] {
		m := c2.nextEvent(t)
		if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
			t.Fatal(err)
		}
		if e.Position != pos {
			t.Fatalf("after resume #%d: position %d, want %d", i, e.Position, pos)
		}
	}
	// Nothing duplicated at the end either: the next event is a new one.
	sentinel := sqlInsert(t, db, "w", 12)
	if err := json.Unmarshal([]byte(c2.nextEvent(t).Data), &e); err != nil || e.Position != sentinel {
		t.Fatalf("after the sentinel got %d, want %d", e.Position, sentinel)
	}
}

func TestLiveEventsSlowClientIsCutOff(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// Events of 64 KiB are sent whole (LargeEvent above them), so that
	// the slow client's socket fills.
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{Buffer: 4, LargeEvent: 1 << 20})
	fast := openSSE(t, st.http.URL+"/live/events?format=json", "")
	// The slow client never reads: its socket fills, then its queue.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, st.http.URL+"/live/events?format=json", nil)
	slowResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer slowResp.Body.Close()
	waitSubscribers(t, st.hub, 2)
	// Commits must reach the WAL at once (the test cluster defers WAL
	// flushes, which would make each round trip wait for the WAL writer).
	writer, err := pgxpool.New(t.Context(), db.ConnString+"&synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	sent := 0
	for v := 1; st.hub.Stats().CutOff == 0; v++ {
		if v > 2000 {
			t.Fatal("slow client never cut off")
		}
		if _, err := writer.Exec(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload)
			VALUES ('big', 'blob', $1, 'Blob', jsonb_build_object('blob', repeat(md5($2), 2048)))`, v, fmt.Sprint(v)); err != nil {
			t.Fatal(err)
		}
		fast.nextEvent(t) // the fast client keeps up with every event
		sent++
	}
	// The fast client keeps receiving after the cut-off.
	pos := sqlInsert(t, db, "after", 1)
	var e eventstore.Event
	if err := json.Unmarshal([]byte(fast.nextEvent(t).Data), &e); err != nil || e.Position != pos {
		t.Fatalf("fast client after cut-off got %d, %v", e.Position, err)
	}
	// The slow client finds a resync at the end of what it was sent, and
	// the connection closed.
	sc := bufio.NewScanner(slowResp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var events int
	var last string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			last = line
			if line == "event: event" {
				events++
			}
		}
	}
	if last != "event: resync" || events >= sent {
		t.Fatalf("slow client: last %q after %d of %d events", last, events, sent)
	}
}

func waitSubscribers(t *testing.T, hub *live.Hub, n int) {
	t.Helper()
	// The hub has no event for "subscribed"; poll its state until a deadline.
	pgtest.WaitFor(t, fmt.Sprintf("%d subscribers", n), 10*time.Second, func(context.Context) (bool, error) {
		return hub.Stats().Subscribers >= n, nil
	})
}

func TestLiveTamperAlertIsSentAndBannered(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	c := openSSE(t, st.http.URL+"/live/events?stream_id=unrelated", "")
	pos := sqlInsert(t, db, "w", 1)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE events SET payload = '{"amount": 500}' WHERE position = $1`, pos); err != nil {
		t.Fatal(err)
	}
	m := c.next(t)
	if m.Event != "alert" || !strings.Contains(m.Data, "Tamper alert: update of 1 row") {
		t.Fatalf("alert message %+v", m)
	}
	// Pages read the banners the refresher holds: refresh now that the
	// alert is written rather than wait out its interval.
	st.banners.Refresh(ctx)
	for _, path := range []string{"/", "/live"} {
		resp, err := http.Get(st.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := doc.Find("#banners [data-testid=banner]"); !strings.Contains(b.Text(), "Tamper alert: update") || b.Find("a").AttrOr("href", "") != "/alerts" {
			t.Errorf("GET %s: banners %q", path, b.Text())
		}
	}
	resp, err := http.Get(st.http.URL + "/alerts")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if rows := doc.Find("[data-testid=alert-row]"); rows.Length() != 1 || rows.AttrOr("data-kind", "") != "update" || !strings.Contains(rows.Text(), fmt.Sprintf("#%d", pos)) {
		t.Fatalf("/alerts rows: %q", rows.Text())
	}
}

func TestLiveEventsHeartbeatAndNoCompression(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	hub := live.NewHub(live.HubConfig{})
	srv := New(testConfig, Deps{Pool: db.Pool, Store: eventstore.New(db.Pool), LiveHub: hub, LiveHeartbeat: 20 * time.Millisecond})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hub.Close(); hs.Close() })
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+"/live/events", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	// A transport that does not add or undo gzip by itself.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("Content-Encoding %q, Cache-Control %q", ce, resp.Header.Get("Cache-Control"))
	}
	sc := bufio.NewScanner(resp.Body)
	beats := 0
	for beats < 2 && sc.Scan() {
		if sc.Text() == ": heartbeat" {
			beats++
		}
	}
	if beats < 2 {
		t.Fatalf("saw %d heartbeats: %v", beats, sc.Err())
	}
}

// ?types=lag: the lag panels' feed gets checkpoint changes and nothing else;
// an unknown type is a 400.
func TestLiveEventsTypesFilter(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	lagOnly := openSSE(t, st.http.URL+LagFeedURL, "")
	everything := openSSE(t, st.http.URL+"/live/events?format=json", "")
	sqlInsert(t, db, "w-types", 1)
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO projection_checkpoints (projection, position) VALUES ('balances', 1)`); err != nil {
		t.Fatal(err)
	}
	// The unfiltered client gets both (events and lag messages travel on
	// separate queues, so their relative order is not fixed).
	got := map[string]bool{}
	for range 2 {
		got[everything.next(t).Event] = true
	}
	if !got["event"] || !got["lag"] {
		t.Fatalf("unfiltered messages %v", got)
	}
	// The lag-only client gets the lag; a second checkpoint change, committed
	// after the unfiltered client saw the event, arrives next: the event was
	// skipped, not late.
	if m := lagOnly.next(t); m.Event != "lag" || !strings.Contains(m.Data, `"position":1`) {
		t.Fatalf("lag-only first message %+v", m)
	}
	if _, err := db.Pool.Exec(t.Context(), `UPDATE projection_checkpoints SET position = 2 WHERE projection = 'balances'`); err != nil {
		t.Fatal(err)
	}
	if m := lagOnly.next(t); m.Event != "lag" || !strings.Contains(m.Data, `"position":2`) {
		t.Fatalf("lag-only second message %+v", m)
	}
	resp, err := http.Get(st.http.URL + "/live/events?types=lag,bogus")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "types") {
		t.Errorf("bad types: %d %s", resp.StatusCode, body)
	}
}
