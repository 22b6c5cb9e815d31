package web

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
)

// TestSliderURLInChromium: moving the state slider writes its position
// into the address (replaceState, no reload); that address, opened anew,
// shows the same state with the events before it on the page, and the
// "at time" box shows the chosen state's moment.
func TestSliderURLInChromium(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 20)
	srv := httptest.NewServer(b.server.Handler())
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	slide := func(v int) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const s = document.querySelector('[data-testid=version-slider]');
			s.value = '%d';
			s.dispatchEvent(new Event('input', { bubbles: true }));
		})()`, v))
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/streams/wallet-1"),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="20"]`)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`),
		slide(7),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="7"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `location.pathname + location.search`); got != "/streams/wallet-1?version=7" {
		t.Errorf("address after the slider = %q", got)
	}
	if evalString(t, ctx, `String(window.__noReload)`) != "true" {
		t.Error("the page reloaded")
	}
	// The time box shows v7's moment (ttT0 + 7 min), in the viewer's zone.
	v7 := ttT0.Add(7 * time.Minute)
	if got := evalString(t, ctx, `new Date(document.querySelector('[data-testid=time-input]').value).toISOString()`); got != v7.Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("time box = %q, want %s", got, v7)
	}

	// The shared address: the same state, the slider there, the events
	// before v7 above it on the page.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/streams/wallet-1?version=7"),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="7"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `document.querySelector('[data-testid=version-slider]').value`); got != "7" {
		t.Errorf("slider after opening the link = %q", got)
	}
	above := evalString(t, ctx, `String(document.querySelector('#jump-target').parentElement.querySelectorAll('[data-testid=event-row]:not(#jump-target *)').length)`)
	if n, _ := strconv.Atoi(above); n < jumpContext {
		t.Errorf("%s events on the page besides the target, want at least %d before it", above, jumpContext)
	}
	if got := evalString(t, ctx, `new Date(document.querySelector('[data-testid=time-input]').value).toISOString()`); got != v7.Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("time box after opening the link = %q", got)
	}
	// At the head, the address is the stream's own again.
	err = chromedp.Do(ctx, slide(20),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="20"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `location.pathname + location.search`); got != "/streams/wallet-1" {
		t.Errorf("address at the head = %q", got)
	}
}

// TestDensityChoiceKeptInChromium: the compact table shows one line per
// event, and the choice survives a reload.
func TestDensityChoiceKeptInChromium(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 30, tlT0)
	srv := httptest.NewServer(b.server.Handler())
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	rowHeight := `String(Math.round(document.querySelector('#event-log [data-testid=event-row]').getBoundingClientRect().height))`
	lineHeight := `String(Math.round(document.querySelector('#event-log [data-testid=event-row] .event-head').getBoundingClientRect().height))`

	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/events"),
		chromedp.WaitVisible(chromedp.CSS(`#event-log [data-testid=event-row]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	comfortable, _ := strconv.Atoi(evalString(t, ctx, rowHeight))
	if got := evalString(t, ctx, `document.querySelector('[data-testid=density-comfortable]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("comfortable is not the default: %s", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=density-compact]`))); err != nil {
		t.Fatal(err)
	}
	compactCheck := func(step string) {
		t.Helper()
		if got := evalString(t, ctx, `document.documentElement.dataset.density`); got != "compact" {
			t.Errorf("%s: density %q", step, got)
		}
		if got := evalString(t, ctx, `document.querySelector('[data-testid=density-compact]').getAttribute('aria-pressed')`); got != "true" {
			t.Errorf("%s: compact button aria-pressed %s", step, got)
		}
		// One line: the row is its head's height (plus padding), the
		// payload folded away entirely.
		row, _ := strconv.Atoi(evalString(t, ctx, rowHeight))
		line, _ := strconv.Atoi(evalString(t, ctx, lineHeight))
		if row > line+12 || row >= comfortable {
			t.Errorf("%s: compact row %d px for a %d px line (comfortable %d px)", step, row, line, comfortable)
		}
		if got := evalString(t, ctx, `getComputedStyle(document.querySelector('#event-log .event-body')).display`); got != "none" {
			t.Errorf("%s: payload shown (%s)", step, got)
		}
	}
	compactCheck("after the click")
	err = chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/events?stream_id=counter-1"),
		chromedp.WaitVisible(chromedp.CSS(`#event-log [data-testid=event-row]`)))
	if err != nil {
		t.Fatal(err)
	}
	compactCheck("on the next page")
	// The timeline keeps its comfortable rows whatever the choice.
	err = chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/streams/counter-1"),
		chromedp.WaitVisible(chromedp.CSS(`#timeline [data-testid=event-row]`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `getComputedStyle(document.querySelector('#timeline .event-body')).display`); got == "none" {
		t.Error("the timeline's rows went compact")
	}
}

// TestFieldHistoryChartInChromium: the step chart is drawn, visible, with
// a line that contrasts with the page in both themes.
func TestFieldHistoryChartInChromium(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 12)
	srv := httptest.NewServer(b.server.Handler())
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	for _, scheme := range []string{"light", "dark"} {
		err := chromedp.Do(ctx,
			browsertest.ColorScheme(scheme),
			chromedp.Navigate(srv.URL+"/streams/wallet-1/fields?path=/balance"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=field-chart] svg [data-testid=chart-line]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		box := evalString(t, ctx, `(() => { const r = document.querySelector('[data-testid=chart-line]').getBoundingClientRect(); return Math.round(r.width) + "x" + Math.round(r.height); })()`)
		var w, h int
		fmt.Sscanf(box, "%dx%d", &w, &h)
		if w < 300 || h < 80 {
			t.Errorf("%s: the line is %s px", scheme, box)
		}
		stroke := evalString(t, ctx, `getComputedStyle(document.querySelector('[data-testid=chart-line]')).stroke`)
		bg := evalString(t, ctx, pageBackground)
		if stroke == "" || stroke == "none" || stroke == bg || !strings.HasPrefix(stroke, "rgb") {
			t.Errorf("%s: stroke %q on %q", scheme, stroke, bg)
		}
		if got := evalString(t, ctx, `document.querySelectorAll('[data-testid=field-chart] circle').length + ""`); got != "12" {
			t.Errorf("%s: %s dots, want 12", scheme, got)
		}
	}
}
