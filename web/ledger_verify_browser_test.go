package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// TestVerifyPagesInChromium opens a stream's verify page in the real
// browser: intact; then, after a payload edited with the immutability
// trigger disabled, broken from that version with the problem listed. The
// whole-store page's button starts a run (its progress polled by htmx
// while it runs) whose result is broken, the changed event named.
func TestVerifyPagesInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	var last int64
	for v := 1; v <= 5; v++ {
		last = sqlInsert(t, db, "acct", v)
	}
	waitLedgerHolds(t, db, last)
	ctx := browsertest.New(t, 90*time.Second)
	status := func() string {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(st.http.URL+"/streams/acct/verify"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=verify-status]`)),
		); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=verify-status]`)))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(text), " ")
	}
	if s := status(); !strings.HasPrefix(s, "intact") || !strings.Contains(s, "5 events match") {
		t.Fatalf("before the edit: %q", s)
	}

	if _, err := db.Pool.Exec(t.Context(), `ALTER TABLE events DISABLE TRIGGER events_immutable;
		UPDATE events SET payload = '{"amount": 5000000}' WHERE stream_id = 'acct' AND version = 3;
		ALTER TABLE events ENABLE TRIGGER events_immutable`); err != nil {
		t.Fatal(err)
	}
	if s := status(); !strings.HasPrefix(s, "broken from version 3") || !strings.Contains(s, "4 events match") {
		t.Fatalf("after the edit: %q", s)
	}
	problem, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=verify-problem]`)))
	if err != nil || !strings.Contains(problem, "v3") || !strings.Contains(problem, "changed") {
		t.Fatalf("problem row: %q, %v", problem, err)
	}

	// The whole store, from the compliance page's button.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(st.http.URL+"/verify"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=verify-never]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=verify-start]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ledger-verify][data-running=false] [data-testid=verify-result]`)),
	); err != nil {
		t.Fatal(err)
	}
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=verify-result]`)))
	if err != nil || result != "broken" {
		t.Fatalf("whole-store result %q, %v", result, err)
	}
	kind, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid=verify-problem]`), "data-kind"))
	if err != nil || kind.Value != "changed" {
		t.Fatalf("whole-store problem %q, %v", kind.Value, err)
	}
}
