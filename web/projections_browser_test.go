package web

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
)

// TestProjectionPanelsLiveInChromium opens /projections in the real browser
// and changes checkpoint rows with SQL. The panels' polling is set to one
// hour, so the first change can only arrive through the `lag` SSE message
// of the live consumer; the second, a panel turning stalled as time passes
// (no row changes), arrives through the polling refresh, set to 200 ms.
func TestProjectionPanelsLiveInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	store := eventstore.New(db.Pool)
	ctx := t.Context()
	if _, err := store.Append(ctx, "wallet-1", "Wallet", eventstore.AnyVersion,
		eventstore.NewEvent{EventType: "A", Payload: []byte(`{}`)}, eventstore.NewEvent{EventType: "B", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO projection_checkpoints (projection, position, updated_at) VALUES ('balances', 1, now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}

	hub := live.NewHub(live.HubConfig{})
	alerts := live.NewAlerts(db.Pool)
	slot := newLiveSlot(t, db)
	c := live.NewConsumer(live.ConsumerConfig{ConnString: db.ConnString, Slot: slot, StatusInterval: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond}, db.Pool, hub, alerts)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mon := projections.NewMonitor(db.Pool, nil, projections.Options{Thresholds: projections.Thresholds{StallAfter: 30 * time.Second}})
	srv := New(testConfig, Deps{Pool: db.Pool, Store: store, LiveHub: hub, LiveConsumer: c, LiveAlerts: alerts, LiveHeartbeat: time.Hour,
		Projections: mon, ProjectionsLiveURL: LagFeedURL, ProjectionsPoll: time.Hour})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hub.Close(); hs.Close(); c.Stop() })

	bctx := browsertest.New(t, 60*time.Second)
	if err := chromedp.Do(bctx, chromedp.Navigate(hs.URL+"/projections")); err != nil {
		t.Fatal(err)
	}
	waitPanel(t, bctx, "balances", "stalled")
	// The SSE source is open before the change.
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(function(){ var e = document.querySelector('#projections-live');
		var d = e && e['htmx-internal-data'];
		return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("SSE source not open: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE projection_checkpoints SET position = 2, updated_at = now() WHERE projection = 'balances'`); err != nil {
		t.Fatal(err)
	}
	// Polling is hourly: only the lag SSE message can bring this change.
	// The head was appended just now, so the panel is caught-up, not idle.
	waitPanel(t, bctx, "balances", "caught-up")
	lag, err := chromedp.Run(bctx, chromedp.Text(`[data-name=balances] [data-testid=lag-events]`))
	if err != nil {
		t.Fatal(err)
	}
	if lag != "0" {
		t.Errorf("lag after catching up = %q", lag)
	}

	// Time passing: a second server polls every 200 ms with a 2 s stall
	// threshold. A checkpoint just written is catching-up, and turns
	// stalled with no row changing.
	mon2 := projections.NewMonitor(db.Pool, nil, projections.Options{Thresholds: projections.Thresholds{StallAfter: 2 * time.Second}})
	hs2 := httptest.NewServer(New(testConfig, Deps{Pool: db.Pool, Store: store, Projections: mon2, ProjectionsPoll: 200 * time.Millisecond}).Handler())
	t.Cleanup(hs2.Close)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO projection_checkpoints (projection, position, updated_at) VALUES ('slowpoke', 1, now())`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(hs2.URL+"/projections")); err != nil {
		t.Fatal(err)
	}
	waitPanel(t, bctx, "slowpoke", "catching-up")
	waitPanel(t, bctx, "slowpoke", "stalled")

	// The head line moves with appends; it is not frozen at page load.
	evs, err := store.Append(ctx, "wallet-2", "Wallet", eventstore.AnyVersion, eventstore.NewEvent{EventType: "A", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := "#" + strconv.FormatInt(evs[0].Position, 10)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector('[data-testid=head-position]').textContent === "`+want+`"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		head, _ := chromedp.Run(bctx, chromedp.Text(`[data-testid=head-position]`))
		t.Fatalf("head shows %q, want %s: %v", head, want, err)
	}
}

// waitPanel waits until a projection's panel shows a status.
func waitPanel(t *testing.T, ctx context.Context, name, want string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function(){ var p = document.querySelector('[data-testid=projection-panel][data-name="`+name+`"]');
		return !!p && p.getAttribute('data-status') === "`+want+`"; })()`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("panel %s never showed %s: %v", name, want, err)
	}
}
