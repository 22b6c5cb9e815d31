package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
)

// TestTimelineInChromium opens a timeline in the real browser: rows render,
// times are shown in the viewer's zone by app.js, streams.js runs under the
// CSP (fills the forms' tz offset), a hostile payload expands as text and
// never runs, and the jump form lands on the highlighted event.
func TestTimelineInChromium(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedCounter(b, "counter-1", 120, tlT0)
	b.append("counter-1", "Counter", ev("Set", `{"note":"<script>window.pwned=1</script>"}`, `{}`))
	hs := httptest.NewServer(b.server.Handler())
	t.Cleanup(hs.Close)
	ctx := browsertest.New(t, 60*time.Second)

	last := `[data-testid=timeline] [data-testid=event-row]:last-child`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(hs.URL+"/streams/counter-1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=timeline] [data-testid=event-row]`)),
		chromedp.Click(chromedp.CSS(last+` summary`)),
	); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=timeline] [data-testid=event-row]').length`))
	if err != nil || rows != 50 {
		t.Errorf("rows = %d, %v", rows, err)
	}
	// streams.js ran under the CSP: the jump form carries the viewer's offset.
	tz, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector('form[data-testid=jump-form] input[data-tz]').value || null`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || (!strings.HasPrefix(tz, "+") && !strings.HasPrefix(tz, "-")) {
		t.Errorf("tz = %q, %v: streams.js did not run", tz, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('[data-testid=timeline] time.ts[data-local]') || null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("times not shown in the viewer's zone: %v", err)
	}
	payload, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(last+` [data-testid=payload]`)))
	if err != nil || !strings.Contains(payload, "<script>window.pwned=1</script>") {
		t.Errorf("expanded payload = %q, %v", payload, err)
	}
	if pwned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.pwned || "")`)); err != nil || pwned != "" {
		t.Errorf("payload script ran: %q %v", pwned, err)
	}

	// Jump to a version with the form: the page lands on it, highlighted.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`[data-testid=jump-version]`), "42"),
		chromedp.Submit(chromedp.CSS(`[data-testid=jump-form]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=jump-target] [data-testid=event-row]`)),
	); err != nil {
		t.Fatal(err)
	}
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid=jump-target] [data-testid=event-row]`), "data-version"))
	if err != nil || v.Value != "42" {
		t.Errorf("jumped to %q, %v", v.Value, err)
	}
}
