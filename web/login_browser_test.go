package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/browsertest"
)

// TestSignInInChromium signs in the way a user does, in the real Chromium:
// a page asked for while signed out leads to the sign-in form, a wrong
// password is said so, the right one returns to the page asked for; a
// page above the role says which role it needs; signing out ends it.
func TestSignInInChromium(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	ab.append("wallet-1", "Wallet", ev("WalletOpened", `{"owner": "ann"}`, `{}`))
	ctx := browsertest.New(t)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	signIn := func(password string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login] input[name=username]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "support"),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`[data-testid=login] button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(ab.http.URL+"/streams/wallet-1")); err != nil {
		t.Fatal(err)
	}
	signIn("not the password")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-error]`))); err != nil {
		t.Fatal(err)
	}
	if got := text(`[data-testid=login-error]`); got != "Wrong username or password." {
		t.Errorf("wrong password: %q", got)
	}
	// The form kept where to go and the name typed.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name=username]').value = ''`)); err != nil {
		t.Fatal(err)
	}
	signIn(testPassword)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-testid=signed-in]`))); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/streams/wallet-1") {
		t.Fatalf("after sign-in at %q (%v), want the timeline", loc, err)
	}
	if got := text(`[data-testid=signed-in] span`); got != "support · support" {
		t.Errorf("signed-in header: %q", got)
	}
	// Above the role: the page says which role is needed.
	if err := chromedp.Do(ctx, chromedp.Navigate(ab.http.URL+"/projections"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-message]`))); err != nil {
		t.Fatal(err)
	}
	if got := text(`[data-testid=error-message]`); !strings.Contains(got, "needs the engineer role") {
		t.Errorf("forbidden page: %q", got)
	}
	// Sign out: back to the form, and the timeline asks for sign-in again.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid=signed-in] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login]`)),
		chromedp.Navigate(ab.http.URL+"/streams/wallet-1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login]`)),
	); err != nil {
		t.Fatal(err)
	}
}
