package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/schema"
)

// outageStack is a server on a private PostgreSQL of the test's own, which
// the test may stop and start (the shared test cluster serves the other
// tests and stays up).
type outageStack struct {
	*bundle
	cluster *pgembed.Cluster
	pool    *pgxpool.Pool
	banners *BannerRefresher
	http    *httptest.Server
}

// startOutageStack starts a private cluster with one stream, the live path
// with its status watch, the banners with the database's, and a server.
func startOutageStack(t *testing.T) *outageStack {
	t.Helper()
	// A short path: the socket must fit in sun_path, in the same place
	// across restarts, so the pool's connection string stays valid.
	dir, err := os.MkdirTemp("", "auditd-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cluster := pgembed.New(pgembed.Config{DataDir: dir, Fast: true})
	ctx := t.Context()
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	if err := cluster.CreateDatabase(ctx, "auditd"); err != nil {
		t.Fatal(err)
	}
	connString := cluster.ConnString("auditd")
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := schema.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(pool)
	b := &bundle{t: t, store: store}
	b.append("wallet-1", "wallet", ev("FundsDeposited", `{"amount": 5}`, `{"actor": "alice"}`))

	hub := live.NewHub(live.HubConfig{})
	consumer := live.NewConsumer(live.ConsumerConfig{ConnString: connString, StatusInterval: 50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, pool, hub, nil)
	if err := consumer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(consumer.Stop)
	pgtest.WaitFor(t, "the consumer to stream", 30*time.Second, func(context.Context) (bool, error) {
		return consumer.Stats().Connected, nil
	})
	watch := live.NewStatusWatch(consumer, hub, 10*time.Millisecond)
	if err := watch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Stop)
	banners := NewBannerRefresher(nil, 20*time.Millisecond, DatabaseBanners(pool))
	if err := banners.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(banners.Stop)
	b.server = New(testConfig, Deps{Pool: pool, Store: store, LiveHub: hub, LiveConsumer: consumer, Banners: banners, LiveHeartbeat: time.Hour,
		Projections: projections.NewMonitor(pool, nil, projections.Options{})})
	hs := httptest.NewServer(b.server.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(hub.Close) // runs first: the feeds end, so hs.Close does not wait for them
	return &outageStack{bundle: b, cluster: cluster, pool: pool, banners: banners, http: hs}
}

// TestDatabaseOutageIsSaid stops the database under a running server:
// pages and JSON answer 503 "database unavailable, retrying" with the
// outage banner, the live feed says "disconnected"; started again, the
// feed says "connected", the banner clears by itself and the pages answer.
func TestDatabaseOutageIsSaid(t *testing.T) {
	t.Parallel()
	st := startOutageStack(t)
	b, cluster, banners, hs, ctx := st.bundle, st.cluster, st.banners, st.http, t.Context()

	feed := openSSE(t, hs.URL+"/live/events?format=json", "")
	b.page("/", http.StatusOK)

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := nextStatus(t, feed); st.Status != "disconnected" {
		t.Fatalf("status after the stop: %+v, want disconnected", st)
	}
	for _, path := range []string{"/", "/events", "/streams", "/streams/wallet-1", "/projections"} {
		doc := b.page(path, http.StatusServiceUnavailable)
		if msg := doc.Find("[data-testid=error-message]").Text(); msg != databaseUnavailableText {
			t.Errorf("GET %s: message %q, want %q", path, msg, databaseUnavailableText)
		}
		if banner := doc.Find("[data-testid=banner]").First(); banner.Text() != outageBanner.Text || banner.AttrOr("id", "") != outageBanner.ID {
			t.Errorf("GET %s: first banner %q, want the outage", path, banner.Text())
		}
		if retry := doc.Find("[data-testid=error]").AttrOr("data-retry-after", ""); retry != "5" {
			t.Errorf("GET %s: data-retry-after %q, want 5 (the page reloads itself)", path, retry)
		}
		rec := b.get(path, "application/json")
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusServiceUnavailable || body.Error != databaseUnavailableText {
			t.Errorf("GET %s as JSON: %d %s (%v)", path, rec.Code, rec.Body.String(), err)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("GET %s: no Retry-After", path)
		}
	}
	// With sign-in on, checking a session needs the database too: 503,
	// not 500 and not "sign in".
	signIn := New(Config{PublicURL: testConfig.PublicURL}, Deps{Pool: st.pool, Store: b.store, Banners: banners})
	req := httptest.NewRequest(http.MethodGet, "/events", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "a-session-id"})
	rec := httptest.NewRecorder()
	signIn.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), databaseUnavailableText) {
		t.Errorf("signed-in GET /events during the outage: %d %s", rec.Code, rec.Body.String())
	}
	pgtest.WaitFor(t, "the outage banner", 10*time.Second, func(context.Context) (bool, error) {
		return slices.Contains(banners.Banners(), outageBanner), nil
	})
	// A page that needs no database still answers, under the banner.
	if banner := b.page("/live", http.StatusOK).Find("#banner-outage").Text(); banner != outageBanner.Text {
		t.Errorf("/live during the outage: banner %q, want the outage", banner)
	}
	// /metrics still answers and says it.
	fams := scrape(t, b.server)
	if up, connected := mustMetric(t, fams, "auditd_projections_up"), mustMetric(t, fams, "auditd_live_consumer_connected"); up != 0 || connected != 0 {
		t.Errorf("metrics during the outage: projections up %v, consumer connected %v; want 0 and 0", up, connected)
	}

	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := nextStatus(t, feed); st.Status != "connected" {
		t.Fatalf("status after the start: %+v, want connected", st)
	}
	pgtest.WaitFor(t, "the outage banner to clear", 10*time.Second, func(context.Context) (bool, error) {
		return !slices.Contains(banners.Banners(), outageBanner), nil
	})
	// Connections the outage broke may still sit in the pool; the page
	// answers once they are replaced.
	pgtest.WaitFor(t, "the overview to answer", 10*time.Second, func(context.Context) (bool, error) {
		return b.get("/", "text/html").Code == http.StatusOK, nil
	})
	fams = scrape(t, b.server)
	if up, connected := mustMetric(t, fams, "auditd_projections_up"), mustMetric(t, fams, "auditd_live_consumer_connected"); up != 1 || connected != 1 {
		t.Errorf("metrics after the recovery: projections up %v, consumer connected %v; want 1 and 1", up, connected)
	}
	if reconnects := mustMetric(t, fams, "auditd_live_consumer_reconnects_total"); reconnects < 1 {
		t.Errorf("reconnects after an outage = %v, want at least 1", reconnects)
	}
	if n := b.page("/events", http.StatusOK).Find("[data-testid=banner]").Length(); n != 0 {
		t.Errorf("%d banners after the recovery, want none", n)
	}
	// And the feed carries events again.
	b.append("wallet-1", "wallet", ev("FundsDeposited", `{"amount": 7}`, `{"actor": "bob"}`))
	if m := feed.nextEvent(t); m.Event != "event" {
		t.Fatalf("after the recovery the feed sent %+v, want the new event", m)
	}
}

// nextStatus skips to the feed's next status message and decodes it.
func nextStatus(t *testing.T, feed *sseClient) liveStatusJSON {
	t.Helper()
	for {
		m := feed.next(t)
		if m.Event != "status" {
			continue
		}
		var st liveStatusJSON
		if err := json.Unmarshal([]byte(m.Data), &st); err != nil {
			t.Fatalf("status data %q: %v", m.Data, err)
		}
		return st
	}
}
