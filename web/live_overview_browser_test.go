package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestOverviewLiveInChromium: an event committed while the overview is
// open shows in its newest events, its totals and its head, without a
// reload (the live feed triggers the body's refresh).
func TestOverviewLiveInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	insert := func(stream string, version int) int64 {
		t.Helper()
		var pos int64
		if err := db.Pool.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
			VALUES ($1, 'Wallet', $2, 'FeeCharged', '{"amount": 500}', '{}') RETURNING position`, stream, version).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return pos
	}
	insert("wallet-1", 1)

	ctx := browsertest.New(t, 60*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(st.http.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=newest-events] [data-testid=event-row]`)),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function(){ var e = document.querySelector('[sse-connect]');
		var d = e && e['htmx-internal-data'];
		return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the overview's feed did not open: %v", err)
	}
	// Within 5 s: sooner than the body's 10 s poll, so the feed brought it.
	pos := insert("wallet-2", 1)
	want := fmt.Sprintf(`document.querySelector('[data-testid=newest-events] [data-testid=event-row]').id === "ev-%d" &&
		document.querySelector('[data-testid=stat-events]').textContent === "2" &&
		document.querySelector('[data-testid=stat-streams]').textContent === "2" &&
		document.querySelector('[data-testid=stat-head]').textContent === "#%d"`, pos, pos)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](want, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=stats]`)))
		t.Fatalf("the overview did not follow the append (stats %q): %v", got, err)
	}
}
