package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
)

// TestTimeTravelInBrowser drives the timeline's time-travel control in the
// real Chromium: moving the version slider and picking a time load the
// state at that moment into the state panel, without reloading the page.
func TestTimeTravelInBrowser(t *testing.T) {
	t.Parallel()
	b, _ := ttSetup(t)
	seedTTWallet(b, 20) // balance after v = 10+20+…+(v-1)*10
	srv := httptest.NewServer(b.server.Handler())
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)

	// The panel loads the latest state on its own.
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/streams/wallet-1"),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="20"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	balance := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#state-panel [data-testid=state-row][data-path="/balance"] [data-testid=state-value]`)))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(v)
	}
	if got := balance(); got != "1900" {
		t.Errorf("balance at v20 = %q, want 1900", got)
	}
	// A marker that a full page load would wipe out, and a count of htmx
	// settles: links in a swapped-in panel work through htmx only once it
	// has settled (processed) them.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.__noReload = true; window.__settles = 0;
		document.body.addEventListener('htmx:afterSettle', () => { window.__settles++; });`)); err != nil {
		t.Fatal(err)
	}

	// Move the slider as a user drags it: value, then input and change.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => {
			const s = document.querySelector('[data-testid=version-slider]');
			s.value = '7';
			s.dispatchEvent(new Event('input', { bubbles: true }));
			s.dispatchEvent(new Event('change', { bubbles: true }));
		})()`),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="7"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(); got != "210" {
		t.Errorf("balance at v7 = %q, want 210", got)
	}
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=slider-value]`)))
	if err != nil || strings.TrimSpace(out) != "7" {
		t.Errorf("slider output = %q (%v)", out, err)
	}

	// Pick a time (the input is in the viewer's zone): 02:03:30Z is
	// between v3 and v4; the slider follows the state's version.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => {
			window.__settles = 0;
			const d = new Date('2025-05-16T02:03:30Z');
			const p = n => String(n).padStart(2, '0');
			const i = document.querySelector('[data-testid=time-input]');
			i.value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
			i.dispatchEvent(new Event('change', { bubbles: true }));
		})()`),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="3"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(); got != "30" {
		t.Errorf("balance at 02:03:30Z = %q, want 30", got)
	}
	slider, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid=version-slider]').value`))
	if err != nil || slider != "3" {
		t.Errorf("slider after a time = %q (%v), want 3", slider, err)
	}

	// Stepping inside the panel stays in the panel (once htmx has
	// processed the swapped-in links).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__settles > 0 || null`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the state panel never settled: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#state-panel [data-testid=state-next]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-testid=state-view][data-state-version="4"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(); got != "60" {
		t.Errorf("balance at v4 = %q, want 60", got)
	}
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	if err != nil || !kept {
		t.Errorf("the page reloaded (%v)", err)
	}
}
