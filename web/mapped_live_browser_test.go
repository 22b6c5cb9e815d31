package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
)

// TestMappedLiveInChromium opens the timeline of a stream of a seed-002
// table (no per-stream version, times without time zone) in the real
// browser, appends an event with the application's SQL and sees it arrive
// through the mapping, numbered as the read path numbers it.
func TestMappedLiveInChromium(t *testing.T) {
	t.Parallel()
	_, hs, insert := mappedLiveStack(t, mappedShapes[1])
	bctx := browsertest.New(t, 60*time.Second)
	poll := func(expr string, limit time.Duration) error {
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(20*time.Millisecond)))
		return err
	}
	sseOpen := `(function(){ var e = document.querySelector('[sse-connect]');
		var d = e && e['htmx-internal-data'];
		return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`
	// The two events written before auditd started: revisions 101 and 102.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(hs.URL+"/streams/"+mappedWallet),
		chromedp.WaitVisible(chromedp.CSS(`#ev-102[data-version="2"]`)),
	); err != nil {
		t.Fatalf("timeline: %v", err)
	}
	if err := poll(sseOpen, 10*time.Second); err != nil {
		t.Fatalf("timeline: the feed did not open: %v", err)
	}
	pos := insert("MoneyDeposited", `{"amount": 5}`, 3)
	row := fmt.Sprintf(`#ev-%d`, pos)
	if err := poll(fmt.Sprintf(`(function(){ var r = document.querySelector(%q);
		return !!r && r.dataset.version === "3" && r.dataset.eventType === "MoneyDeposited"; })()`, row), 2*time.Second); err != nil {
		t.Fatalf("the live append %s did not appear as v3 within 2 s: %v", row, err)
	}
}
