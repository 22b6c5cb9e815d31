package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestDatabaseOutageInChromium: a page open with a live feed shows the
// outage banner when the database stops and clears it when it is back,
// without a reload; a page opened during the outage (a 503) turns into the
// page by itself once the database answers.
func TestDatabaseOutageInChromium(t *testing.T) {
	t.Parallel()
	st := startOutageStack(t)
	// poll waits in tab for a JavaScript condition.
	poll := func(tab context.Context, what, expr string, limit time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	const (
		outageShown = `document.getElementById("banner-outage") !== null`
		outageGone  = `document.getElementById("banner-outage") === null`
		sseOpen     = `(function(){ var e = document.querySelector('[sse-connect]');
			var d = e && e['htmx-internal-data'];
			return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`
	)

	logTab := browsertest.New(t, 90*time.Second)
	if err := chromedp.Do(logTab, chromedp.Navigate(st.http.URL+"/events")); err != nil {
		t.Fatal(err)
	}
	poll(logTab, "the log's live feed", sseOpen, 10*time.Second)

	if err := st.cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	poll(logTab, "the outage banner on the open log", outageShown, 10*time.Second)
	// A page opened now is the outage's 503, which retries by itself.
	streamsTab, cancel := chromedp.NewContext(logTab)
	t.Cleanup(cancel)
	if err := chromedp.Do(streamsTab, chromedp.Navigate(st.http.URL+"/streams")); err != nil {
		t.Fatal(err)
	}
	poll(streamsTab, "the 503 page with the banner", `document.querySelector("[data-retry-after]") !== null && `+outageShown, 10*time.Second)

	if err := st.cluster.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	poll(logTab, "the outage banner to clear on the open log", outageGone, 10*time.Second)
	// The page reloads itself (perhaps more than once, while the pool
	// replaces connections the outage broke): a check that meets a
	// navigation is simply not yet true.
	pgtest.WaitFor(t, "the 503 page to turn into the streams page", 30*time.Second, func(context.Context) (bool, error) {
		ok, err := chromedp.Run(streamsTab, chromedp.Evaluate[bool](`document.readyState === "complete" && document.querySelector("[data-testid=error]") === null && `+
			`document.querySelector("[data-testid=banner]") === null && document.title.indexOf("Streams") === 0`))
		return err == nil && ok, nil
	})
}
