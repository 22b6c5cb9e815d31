package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestLiveInChromium opens /live and a stream page in the real browser,
// inserts events with SQL and sees each appear within a second; it also
// pauses the tail and resumes it.
func TestLiveInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	// Commits reach the WAL at once, as on a normally configured server
	// (the test cluster defers WAL flushes).
	writer, err := pgxpool.New(t.Context(), db.ConnString+"&synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)
	insert := func(stream string, version int) int64 {
		t.Helper()
		var pos int64
		if err := writer.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
			VALUES ($1, 'wallet', $2, 'FundsDeposited', '{"amount": 5}', '{"actor": "alice"}') RETURNING position`, stream, version).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return pos
	}
	first := insert("wallet-b", 1)

	bctx := browsertest.New(t, 60*time.Second)
	// poll waits for a JavaScript condition.
	poll := func(expr string, limit time.Duration) error {
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(20*time.Millisecond)))
		return err
	}
	present := func(sel string) string { return fmt.Sprintf(`document.querySelector(%q) !== null`, sel) }
	sseOpen := `(function(){ var e = document.querySelector('[sse-connect]');
		var d = e && e['htmx-internal-data'];
		return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`

	if err := chromedp.Do(bctx,
		chromedp.Navigate(st.http.URL+"/live"),
		// The window's events are rendered with the page.
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#live-feed #ev-%d`, first))),
	); err != nil {
		t.Fatal(err)
	}
	if err := poll(`document.getElementById("live-status").dataset.state === "open"`, 10*time.Second); err != nil {
		t.Fatalf("/live: the feed did not open: %v", err)
	}
	// The filters' placeholders name types and a stream that exist.
	if ph, err := chromedp.Run(bctx, chromedp.Evaluate[string](`["live-filter-stream", "live-filter-type", "live-filter-event-type"].map(function (id) {
		return document.querySelector("[data-testid=" + id + "]").placeholder; }).join(" ")`)); err != nil || ph != "wallet-b wallet FundsDeposited" {
		t.Errorf("/live placeholders = %q (%v), want the data's stream, stream type and event type", ph, err)
	}
	second := insert("wallet-b", 2)
	if err := poll(present(fmt.Sprintf(`#live-feed #ev-%d`, second)), time.Second); err != nil {
		t.Fatalf("/live: event %d did not appear within a second: %v", second, err)
	}
	href, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(fmt.Sprintf(`#ev-%d [data-testid=stream-link]`, second)), "href"))
	if err != nil || href.Value != "/streams/wallet-b" {
		t.Fatalf("row links to %q, %v", href.Value, err)
	}

	// Paused: rows are held and counted, shown on resume.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#live-pause`))); err != nil {
		t.Fatal(err)
	}
	paused := insert("wallet-c", 1)
	if err := poll(`document.getElementById("live-held-count").textContent === "1" && !document.getElementById("live-held").hidden`, 5*time.Second); err != nil {
		t.Fatalf("paused counter: %v", err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[bool](present(fmt.Sprintf(`#ev-%d`, paused))))
	if err != nil || shown {
		t.Fatalf("a row was shown while paused (%v)", err)
	}
	// The status dot says so, and says "live" again on resume.
	if s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("live-status").textContent + "/" + document.getElementById("live-status").dataset.state`)); err != nil || s != "paused/paused" {
		t.Errorf("status while paused = %q (%v), want paused", s, err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#live-pause`))); err != nil {
		t.Fatal(err)
	}
	if s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("live-status").textContent + "/" + document.getElementById("live-status").dataset.state`)); err != nil || s != "live/open" {
		t.Errorf("status after resume = %q (%v), want live", s, err)
	}
	if err := poll(present(fmt.Sprintf(`#live-feed #ev-%d`, paused))+` && document.getElementById("live-held").hidden`, time.Second); err != nil {
		t.Fatalf("resume: %v", err)
	}

	// The stream page receives its new events through the same feed.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(st.http.URL+"/streams/wallet-b"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#ev-%d`, second))),
	); err != nil {
		t.Fatalf("stream page: %v", err)
	}
	if err := poll(sseOpen, 10*time.Second); err != nil {
		t.Fatalf("stream page: the feed did not open: %v", err)
	}
	third := insert("wallet-b", 3)
	if err := poll(present(fmt.Sprintf(`#ev-%d`, third)), time.Second); err != nil {
		t.Fatalf("stream page: event %d did not appear within a second: %v", third, err)
	}
}
