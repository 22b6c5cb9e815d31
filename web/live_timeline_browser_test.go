package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestTimelineLiveAppendInChromium: an event committed while a reader is
// at the latest version of a timeline arrives with its "what changed" line,
// and the header count, the slider and the state panel move with it; a
// reader who moved the slider back is left where they are.
func TestTimelineLiveAppendInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	writer, err := pgxpool.New(t.Context(), db.ConnString+"&synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)
	insert := func(version int, payload string) int64 {
		t.Helper()
		var pos int64
		if err := writer.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, metadata)
			VALUES ('wallet-dispute-0001', 'Wallet', $1, 'FeeCharged', $2, '{"actor": "job:fees"}') RETURNING position`, version, payload).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return pos
	}
	insert(1, `{"balance": 340, "reason": "opened"}`)
	insert(2, `{"balance": 338.5, "reason": "monthly fee"}`)

	ctx := browsertest.New(t, 60*time.Second)
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid=timetravel]').outerHTML.slice(0, 2000)`))
			t.Fatalf("%s: %v\n%s", what, err, state)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(st.http.URL+"/streams/wallet-dispute-0001"),
		chromedp.WaitVisible(chromedp.CSS(`#state-panel [data-state-version="2"]`)),
	); err != nil {
		t.Fatal(err)
	}
	poll("the feed opens", `(function(){ var e = document.querySelector('[sse-connect]');
		var d = e && e['htmx-internal-data'];
		return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); })()`)

	fee := insert(3, `{"balance": -160, "reason": "annual fee"}`)
	row := fmt.Sprintf(`#timeline #ev-%d`, fee)
	poll("the new row with its changes", fmt.Sprintf(`!!document.querySelector('%s [data-testid=event-changes]')`, row))
	changes, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` [data-testid=event-changes]`)))
	if err != nil || !strings.Contains(changes, "/balance") || !strings.Contains(changes, "338.5") || !strings.Contains(changes, "-160") {
		t.Errorf("changes line = %q, %v", changes, err)
	}
	poll("the header count", `document.querySelector('[data-testid=stream-version]').textContent.trim() === "3 events"`)
	poll("the slider", `document.querySelector('[data-testid=version-slider]').value === "3" && document.querySelector('[data-testid=version-slider]').max === "3"`)
	poll("the state panel", `!!document.querySelector('#state-panel [data-state-version="3"]') && document.getElementById('state-panel').textContent.includes("annual fee")`)

	// A reader looking at an earlier version stays there; the slider's
	// range still grows.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){ var s = document.querySelector('[data-testid=version-slider]');
		s.value = "1"; s.dispatchEvent(new Event("input")); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	poll("the state at version 1", `!!document.querySelector('#state-panel [data-state-version="1"]')`)
	refund := insert(4, `{"balance": 340, "reason": "fee refunded"}`)
	poll("the second row", fmt.Sprintf(`!!document.querySelector('#timeline #ev-%d[data-enriched=done]')`, refund))
	poll("the header count", `document.querySelector('[data-testid=stream-version]').textContent.trim() === "4 events"`)
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid=version-slider]').value + "/" +
		document.querySelector('[data-testid=version-slider]').max + " " + document.querySelector('#state-panel [data-state-version]').dataset.stateVersion`))
	if err != nil || state != "1/4 1" {
		t.Errorf("slider and state after an append while at version 1 = %q, %v; want 1/4 1", state, err)
	}
}
