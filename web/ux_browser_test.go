package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
)

// uxSite is a server with every service a page can show (time travel,
// live tail and alerts, projections with drift checks, header banners) on a
// database seeded so that each page has rows, badges and banners to check.
type uxSite struct {
	url   string
	event int64 // position of an event with a correlation chain
	large int64 // position of an event too large to show whole
}

// uxConfig folds wallets and checks the wallet_balances read model.
const uxConfig = `{"reducers":{"Wallet":{
	"WalletOpened":[{"op":"set","path":"/owner","from":"/owner"},{"op":"set","path":"/balance","value":0},{"op":"set","path":"/tags","value":[]}],
	"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"}],
	"Tagged":[{"op":"append","path":"/tags","from":"/tag"}]}},
	"drift": {"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}}}`

func uxSetup(t *testing.T) *uxSite {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(uxConfig), "ux.json")
	if err != nil {
		t.Fatal(err)
	}
	var alerts *live.Alerts
	b := setup(t, func(d *Deps) {
		ctx := t.Context()
		if _, err := d.Pool.Exec(ctx, `CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric)`); err != nil {
			t.Fatal(err)
		}
		d.TimeTravel = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: 10})
		startDrift(t, d, uxConfig)
		d.Projections = projections.NewMonitor(d.Pool, nil, projections.Options{
			Thresholds: projections.Thresholds{StallAfter: 30 * time.Second, LagEvents: 5},
			Declared:   []string{"wallet_balances"},
		})
		hub := live.NewHub(live.HubConfig{})
		t.Cleanup(hub.Close)
		alerts = live.NewAlerts(d.Pool)
		d.LiveHub, d.LiveAlerts, d.LiveHeartbeat = hub, alerts, time.Hour
		d.ProjectionsPoll = time.Hour
		d.Banners = NewBannerRefresher(nil, time.Hour, AlertBanners(alerts), ProjectionBanners(d.Projections))
		d.Checkpoints = ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: testSigningKey, Interval: -1}, ledger.NewStore(d.Pool))
	})
	ctx := t.Context()
	opened := []eventstore.NewEvent{{EventType: "WalletOpened", Payload: json.RawMessage(`{"owner":"ann"}`),
		Metadata: json.RawMessage(`{"actor":"ann","source":"signup","correlation_id":"corr-1"}`), RecordedAt: ttT0}}
	for v := 2; v <= 60; v++ {
		opened = append(opened, eventstore.NewEvent{EventType: "MoneyDeposited",
			Payload:    json.RawMessage(fmt.Sprintf(`{"amount":%d}`, v*10)),
			Metadata:   json.RawMessage(fmt.Sprintf(`{"actor":"agent-%d","source":"api","correlation_id":"corr-1"}`, v)),
			RecordedAt: ttT0.Add(time.Duration(v) * time.Minute)})
	}
	opened = append(opened, eventstore.NewEvent{EventType: "Tagged", Payload: json.RawMessage(`{"tag":"vip"}`),
		Metadata: json.RawMessage(`{"actor":"ann"}`), RecordedAt: ttT0.Add(time.Hour)})
	evs := b.append("wallet-1", "Wallet", opened...)
	b.append("wallet-2", "Wallet", ev("WalletOpened", `{"owner":"bob"}`, `{"actor":"bob"}`))
	b.append("order-1", "Order", ev("OrderPlaced", `{"total":"12.50"}`, `{"actor":"bob"}`))
	// A payload past the event page's preview: shown cut, with its note.
	large := b.append("order-1", "Order", ev("OrderNoted", `{"note":"`+strings.Repeat("lorem ipsum ", 30000)+`"}`, `{"actor":"bob"}`))
	// A read model behind and wrong (drift), a failing and a stalled
	// projection, a tamper alert: the badges and banners they bring.
	b.exec(`INSERT INTO wallet_balances VALUES ('wallet-1', 1), ('wallet-2', 0)`)
	b.exec(`INSERT INTO projection_checkpoints (projection, position, updated_at, last_error, error_count)
		VALUES ('wallet_balances', 3, now() - interval '1 hour', NULL, 0), ('orders', 1, now(), 'boom', 2), ('caught', $1, now(), NULL, 0)`,
		evs[len(evs)-1].Position+2)
	if _, err := alerts.Record(ctx, &live.Alert{Kind: "update", CommitLSN: "0/16B3748", Xid: 777, Rows: 1,
		Positions: []int64{evs[4].Position}, CommittedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// A signed checkpoint for /about/keys to list.
	entry := ledger.Entry{CommitLSN: 0x100, Xid: 1, CommittedAt: time.Now()}
	entry.Hash = entry.ChainHash(ledger.Hash{})
	if err := ledger.NewStore(b.db.Pool).Insert(ctx, []ledger.Entry{entry}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.server.deps.Checkpoints.Checkpoint(ctx, ledger.ReasonOnDemand); err != nil {
		t.Fatal(err)
	}
	b.server.deps.Banners.Refresh(ctx)
	hs := httptest.NewServer(b.server.Handler())
	t.Cleanup(hs.Close)
	return &uxSite{url: hs.URL, event: evs[5].Position, large: large[0].Position}
}

// uxPage is a page to check, and what to wait for before checking it:
// the fragments htmx loads after the page.
type uxPage struct {
	name, path string
	ready      []string // CSS selectors that must be visible
}

func (s *uxSite) pages() []uxPage {
	return []uxPage{
		{"overview", "/", []string{`[data-testid=banner]`, `[data-testid=newest-events] [data-testid=event-row]`}},
		{"streams search", "/streams?q=wallet", []string{`[data-testid=streams] [data-testid=stream-row]`}},
		// The timeline loads its state panel and its read models (the
		// stream projections fragment) with htmx.
		{"timeline", "/streams/wallet-1", []string{`#state-panel [data-testid=state-view]`, `[data-testid=stream-projections]`, `[data-testid=pager]`}},
		{"state", "/streams/wallet-1/state?version=12", []string{`[data-testid=state-view]`}},
		{"diff", "/streams/wallet-1/diff?from=v:2&to=v:61", []string{`[data-testid=diff-new]`, `[data-testid=diff-events]`}},
		{"field history", "/streams/wallet-1/fields?path=/balance", []string{`[data-testid=field-chart] svg`, `[data-testid=field-table]`}},
		{"events log", "/events", []string{`[data-testid=event-row]`, `[data-testid=pager]`}},
		{"event page", fmt.Sprintf("/events/%d", s.event), []string{`[data-testid=event-position]`}},
		{"large event page", fmt.Sprintf("/events/%d", s.large), []string{`[data-testid=truncated]`}},
		{"live", "/live", nil},
		{"alerts", "/alerts", nil},
		{"projections", "/projections", []string{`[data-testid=projection-panel]`}},
		{"a projection", "/projections/wallet_balances", nil},
		{"drift", "/projections/wallet_balances/drift", nil},
		{"streams search, nothing found", "/streams?q=no-such", []string{`[data-testid=empty]`}},
		{"find, several matches", "/find?q=WALLET", []string{`[data-testid=find-match]`}},
		{"find, nothing found", "/find?q=no-such-thing", []string{`[data-testid=find-none]`}},
		{"not found", "/streams/no-such-stream", []string{`[data-testid=error]`}},
		{"bad request", "/events?from=yesterday", []string{`[data-testid=error]`}},
		{"sign in", "/login", []string{`[data-testid=login]`}},
		{"signing keys", "/about/keys", []string{`[data-testid=checkpoint]`}},
		// After the pages above: it has their views to list.
		{"access log", "/access-log", []string{`[data-testid=access-log] [data-testid=access-entry]`}},
	}
}

// open loads a page and waits until it and its htmx fragments are in.
func (s *uxSite) open(t *testing.T, ctx context.Context, p uxPage) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + p.path)}
	for _, sel := range p.ready {
		steps = append(steps, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(pctx, steps...); err != nil {
		t.Fatalf("%s (%s): %v", p.name, p.path, err)
	}
	// htmx has processed the page and no request of it is in flight.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(window.htmx && !document.querySelector('.htmx-request')) || null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%s (%s): htmx never settled: %v", p.name, p.path, err)
	}
}

// pageBackground is the page's computed background colour, which tells the
// theme in force.
const pageBackground = `getComputedStyle(document.body).backgroundColor`

// themeBackground is --bg of each theme (static/app.css).
var themeBackground = map[string]string{"light": "rgb(246, 247, 249)", "dark": "rgb(15, 19, 26)"}

// TestAccessibilityInChromium runs axe-core in the real Chromium on every
// page, in the light and the dark theme, and wants zero violations.
func TestAccessibilityInChromium(t *testing.T) {
	t.Parallel()
	site := uxSetup(t)
	ctx := browsertest.New(t, 4*time.Minute)
	for _, theme := range []string{"light", "dark"} {
		if err := chromedp.Do(ctx, browsertest.ColorScheme(theme)); err != nil {
			t.Fatal(err)
		}
		for _, p := range site.pages() {
			site.open(t, ctx, p)
			if got := evalString(t, ctx, pageBackground); got != themeBackground[theme] {
				t.Fatalf("%s in the %s theme: page background %s, want %s", p.name, theme, got, themeBackground[theme])
			}
			for _, v := range browsertest.Axe(t, ctx) {
				t.Errorf("%s (%s), %s theme: %s", p.name, p.path, theme, v)
			}
		}
		// A drift "check all" job, started from the drift page's button,
		// once it has finished (drifted streams listed).
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(jctx,
			chromedp.Navigate(site.url+"/projections/wallet_balances/drift"),
			chromedp.Click(chromedp.CSS(`[data-testid=check-all]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=drift-job][data-finished=true]`)),
		)
		cancel()
		if err != nil {
			t.Fatalf("drift job page: %v", err)
		}
		for _, v := range browsertest.Axe(t, ctx) {
			t.Errorf("drift job page, %s theme: %s", theme, v)
		}
	}
	// The shortcuts dialog, open.
	site.open(t, ctx, site.pages()[0])
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(dctx, browsertest.Type("?"), chromedp.WaitVisible(chromedp.CSS(`#shortcuts`))); err != nil {
		t.Fatal(err)
	}
	for _, v := range browsertest.Axe(t, ctx) {
		t.Errorf("shortcuts dialog: %s", v)
	}
}

// evalString evaluates a JavaScript expression to a string.
func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// activeRow is the data-version of the focused event row, "" if the focus
// is not on a row.
const activeRow = `(document.activeElement && document.activeElement.matches('[data-testid=event-row]')) ? document.activeElement.dataset.version : ""`

// TestSkipLinkInChromium: the first Tab lands on the skip link, and
// following it moves the focus to the page's content.
func TestSkipLinkInChromium(t *testing.T) {
	t.Parallel()
	site := uxSetup(t)
	ctx := browsertest.New(t)
	site.open(t, ctx, uxPage{"timeline", "/streams/wallet-1", nil})
	if err := chromedp.Do(ctx, browsertest.Type("\t")); err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `document.activeElement.dataset.testid || document.activeElement.tagName`); got != "skip-link" {
		t.Fatalf("first Tab focused %q, want the skip link", got)
	}
	if got := evalString(t, ctx, `getComputedStyle(document.activeElement).top`); got != "8px" {
		t.Errorf("focused skip link at top %q, want it shown (8px)", got)
	}
	if err := chromedp.Do(ctx, browsertest.Type("\r")); err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `document.activeElement.id`); got != "main" {
		t.Errorf("after the skip link the focus is on %q, want main", got)
	}
}

// TestKeyboardShortcutsInChromium presses each shortcut in the real
// browser: "/" focuses the search box (where j and k are typed, not
// shortcuts), j and k move through the event rows, Enter opens the selected
// event, "?" opens the list of shortcuts.
func TestKeyboardShortcutsInChromium(t *testing.T) {
	t.Parallel()
	site := uxSetup(t)
	ctx := browsertest.New(t)
	site.open(t, ctx, uxPage{"events log", "/events", []string{`[data-testid=event-row]`}})
	press := func(keys string) {
		t.Helper()
		if err := chromedp.Do(ctx, browsertest.Type(keys)); err != nil {
			t.Fatal(err)
		}
	}

	// "/" focuses the header's search box; keys typed there are text.
	press("/")
	if got := evalString(t, ctx, `document.activeElement.matches('.quick-search input') ? "search" : document.activeElement.tagName`); got != "search" {
		t.Fatalf(`"/" focused %q, want the search box`, got)
	}
	press("jk")
	if got := evalString(t, ctx, `document.activeElement.value`); got != "jk" {
		t.Errorf("search box holds %q after typing jk, want jk (no shortcut in a box)", got)
	}
	if got := evalString(t, ctx, `String(document.querySelectorAll('.kbd-current').length)`); got != "0" {
		t.Errorf("typing j in the search box selected %s rows", got)
	}
	// Esc leaves the box; j and k then move through the rows, newest first.
	press("\x1b")
	versions := evalString(t, ctx, `Array.from(document.querySelectorAll('main [data-testid=event-row]')).slice(0, 3).map(r => r.dataset.version).join(",")`)
	want := strings.Split(versions, ",")
	if len(want) != 3 {
		t.Fatalf("rows = %q", versions)
	}
	for i, step := range []struct{ key, want string }{{"j", want[0]}, {"j", want[1]}, {"j", want[2]}, {"k", want[1]}} {
		press(step.key)
		if got := evalString(t, ctx, activeRow); got != step.want {
			t.Errorf("step %d (%s): focused row v%q, want v%q", i, step.key, got, step.want)
		}
	}
	// Enter opens the selected event.
	pos := evalString(t, ctx, `document.activeElement.dataset.position`)
	press("\r")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid=event-position]`))); err != nil {
		t.Fatalf("Enter on row #%s did not open an event page: %v", pos, err)
	}
	if got := evalString(t, ctx, `location.pathname`); got != "/events/"+pos {
		t.Errorf("Enter on row #%s opened %s", pos, got)
	}

	// "?" opens the list; Esc closes it.
	press("?")
	if got := evalString(t, ctx, `String(document.getElementById('shortcuts').open)`); got != "true" {
		t.Fatalf(`"?" left the shortcuts closed`)
	}
	if got := evalString(t, ctx, `document.querySelector('#shortcuts dl').innerText`); !strings.Contains(got, "Next event") {
		t.Errorf("shortcuts list = %q", got)
	}
	press("\x1b")
	if got := evalString(t, ctx, `String(document.getElementById('shortcuts').open)`); got != "false" {
		t.Errorf("Esc left the shortcuts open")
	}
	// The header's ? button opens it too, and its Close button closes it.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=shortcuts-button]`))); err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `String(document.getElementById('shortcuts').open)`); got != "true" {
		t.Errorf("the ? button left the shortcuts closed")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=shortcuts-close]`))); err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `String(document.getElementById('shortcuts').open)`); got != "false" {
		t.Errorf("Close left the shortcuts open")
	}
}

// TestThemeToggleInChromium: the theme follows prefers-color-scheme; the
// header's toggle overrides it, and the choice survives a reload, in place
// before the body is parsed (so before the first paint: no flash).
func TestThemeToggleInChromium(t *testing.T) {
	t.Parallel()
	site := uxSetup(t)
	ctx := browsertest.New(t)
	// Records the theme in force (the stored choice on <html>, else the
	// system's) at the moment <body> is parsed, before any paint.
	if err := chromedp.Do(ctx, browsertest.OnNewDocument(`new MutationObserver(function (ms, obs) {
		if (document.body) { window.__bodyTheme = document.documentElement.dataset.theme ||
			(matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'); obs.disconnect(); }
	}).observe(document, {childList: true, subtree: true});`)); err != nil {
		t.Fatal(err)
	}
	overview := site.pages()[0]
	check := func(step, want string) {
		t.Helper()
		if got := evalString(t, ctx, pageBackground); got != themeBackground[want] {
			t.Errorf("%s: background %s, want the %s theme's %s", step, got, want, themeBackground[want])
		}
		if got := evalString(t, ctx, `window.__bodyTheme`); got != want {
			t.Errorf("%s: theme %q when <body> was parsed, want %q", step, got, want)
		}
		pressed := map[string]string{"light": "false", "dark": "true"}[want]
		if got := evalString(t, ctx, `document.querySelector('[data-testid=theme-toggle]').getAttribute('aria-pressed')`); got != pressed {
			t.Errorf("%s: toggle aria-pressed %s, want %s", step, got, pressed)
		}
	}

	for _, system := range []string{"light", "dark"} {
		other := map[string]string{"light": "dark", "dark": "light"}[system]
		site.open(t, ctx, overview)
		if err := chromedp.Do(ctx, browsertest.ColorScheme(system), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`)); err != nil {
			t.Fatal(err)
		}
		site.open(t, ctx, overview)
		check("system "+system+", no choice", system)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=theme-toggle]`))); err != nil {
			t.Fatal(err)
		}
		if got := evalString(t, ctx, pageBackground); got != themeBackground[other] {
			t.Errorf("system %s, toggled: background %s, want %s", system, got, themeBackground[other])
		}
		site.open(t, ctx, overview) // a reload
		check("system "+system+", toggled, reloaded", other)
		site.open(t, ctx, site.pages()[2]) // another page
		check("system "+system+", toggled, the timeline", other)
	}
}

// TestNarrowScreenInChromium opens the main pages 390 px wide (a phone):
// nothing runs off the right edge, and every navigation link is on screen.
func TestNarrowScreenInChromium(t *testing.T) {
	t.Parallel()
	site := uxSetup(t)
	ctx := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	for _, p := range site.pages() {
		site.open(t, ctx, p)
		if got := browsertest.Overflow(t, ctx); got != "" {
			t.Errorf("%s (%s) at 390 px: %s", p.name, p.path, got)
		}
		off := evalString(t, ctx, `Array.from(document.querySelectorAll('[data-testid=nav] a, .topbar-tools button, .quick-search input')).filter(function (a) {
			var r = a.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth || r.width === 0; }).map(function (a) { return a.textContent || a.name; }).join(", ")`)
		if off != "" {
			t.Errorf("%s at 390 px: header controls off screen: %s", p.name, off)
		}
	}
}
