package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/browsertest"
)

// TestRevealInChromium is a compliance reviewer's reveal, in the real
// Chromium: signed in through the form, the state page shows the owner as
// an accessible mask with a reveal form; the form wants a reason, and with
// one the value replaces the mask in place.
func TestRevealInChromium(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	ab.server.deps.PII = piiPolicy(t) // before any request
	evs := piiEvents(ab.bundle)
	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ab.http.URL+"/streams/wallet-p/state"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login] input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "compliance"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-mask]`)),
	); err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the state page in Chromium", html)
	if vs := browsertest.Axe(t, ctx); len(vs) > 0 {
		t.Errorf("axe on the state page with a masked value: %v", vs)
	}
	// Without a reason the browser does not send the form.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-reveal-button]`))); err != nil {
		t.Fatal(err)
	}
	invalid, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-path="/owner"] [data-testid=pii-reason]').matches(':invalid')`))
	if err != nil || !invalid {
		t.Fatalf("an empty reason is not refused by the form (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-reason]`), "ticket 4711"),
		chromedp.Click(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-reveal-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-revealed-value]`)),
	); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-path="/owner"] [data-testid=pii-revealed-value]`)))
	if err != nil || !strings.Contains(got, "Yuri Vex") || !strings.Contains(got, "zq@example.org") {
		t.Fatalf("revealed value %q (%v)", got, err)
	}
	// The other pages with placeholders (and, on the event page, reveal
	// forms) pass the axe check too.
	for _, path := range []string{fmt.Sprintf("/events/%d", evs[0].Position), "/streams/wallet-p/diff?from=v:0&to=v:3", "/streams/wallet-p"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(ab.http.URL+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid=pii-mask]`))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if vs := browsertest.Axe(t, ctx); len(vs) > 0 {
			t.Errorf("axe on %s: %v", path, vs)
		}
	}
	var reason string
	if err := ab.db.Pool.QueryRow(t.Context(), `SELECT reason FROM auditd.access_log WHERE kind = 'reveal' AND user_name = 'compliance'`).Scan(&reason); err != nil || reason != "ticket 4711" {
		t.Fatalf("the reveal in the access log: %q %v", reason, err)
	}
}
