package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/browsertest"
)

// TestCaseReferenceInChromium sets a case in the header of a signed-in
// session, as a compliance reviewer does, at desktop width and at 390 px:
// the header keeps every control on screen, the page and the access log
// pass axe, and the views after it carry the case; the timeline shows who
// else viewed the stream.
func TestCaseReferenceInChromium(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	seedCounter(ab.bundle, "counter-1", 3, tlT0)
	pageOf(t, ab.signIn("support"), "/streams/counter-1")
	ctx := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ab.http.URL+"/streams/counter-1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login] input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "compliance"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=case-form]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=case-input]`), "ticket 4711"),
		chromedp.Click(chromedp.CSS(`[data-testid=case-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=stream-viewers] [data-testid=stream-viewer]`)),
	); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/streams/counter-1") {
		t.Fatalf("after setting the case at %q (%v), want the timeline", loc, err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-testid=case-input]`))); err != nil || v != "ticket 4711" {
		t.Fatalf("the header's case: %q, %v", v, err)
	}
	if got := accessEntries(t, ab.db); got[len(got)-1].Case != "ticket 4711" || got[len(got)-1].User != "compliance" {
		t.Fatalf("last entry %+v", got[len(got)-1])
	}
	for _, width := range []int64{1280, 390} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 844)); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/streams/counter-1", "/access-log"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(ab.http.URL+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid=case-form]`))); err != nil {
				t.Fatal(err)
			}
			if got := browsertest.Overflow(t, ctx); got != "" {
				t.Errorf("%s at %d px: %s", path, width, got)
			}
			off := evalString(t, ctx, `Array.from(document.querySelectorAll('[data-testid=nav] a, .topbar-tools button, .case-ref input:not([type=hidden]), .case-ref button, .signed-in button')).filter(function (a) {
				var r = a.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth || r.width === 0; }).map(function (a) { return a.textContent || a.name; }).join(", ")`)
			if off != "" {
				t.Errorf("%s at %d px: header controls off screen: %s", path, width, off)
			}
			for _, v := range browsertest.Axe(t, ctx) {
				t.Errorf("%s at %d px: %s", path, width, v)
			}
		}
	}
}
