package web

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
)

// TestHeaderSearchInChromium types into the header box of a real page, as
// an investigator does: part of a stream id in the wrong case, an event id,
// a position and a correlation id each land on their page; a word many
// stream ids contain lands on the page to choose from.
func TestHeaderSearchInChromium(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet-dispute-0001", "Wallet", ev("WalletOpened", `{}`, `{"correlation_id":"corr-annual-fee"}`),
		ev("FeeCharged", `{"amount":"500.00","reason":"annual fee"}`, `{"correlation_id":"corr-annual-fee"}`))
	fee := b.append("wallet-0002", "Wallet", ev("WalletOpened", `{}`, `{}`))[0]
	b.append("wallet-0003", "Wallet", ev("WalletOpened", `{}`, `{}`))
	hs := httptest.NewServer(b.server.Handler())
	t.Cleanup(hs.Close)
	ctx := browsertest.New(t)

	search := func(text string) string {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(hs.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=quick-search]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=quick-search]`), text+"\r"),
		); err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		// The poll may start on the page being left: a navigation ends
		// it, and it starts again on the new one.
		for try := 0; ; try++ {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](`location.pathname !== "/" && document.readyState === "complete"`,
				chromedp.WithPollingTimeout(10*time.Second)))
			if err == nil {
				break
			}
			if try == 3 {
				t.Fatalf("search %q: no page: %v", text, err)
			}
		}
		path, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(path, hs.URL)
	}
	for text, want := range map[string]string{
		"DISPUTE":                "/streams/wallet-dispute-0001",
		fee.EventID:              fmt.Sprintf("/events/%d", fee.Position),
		fmt.Sprint(fee.Position): fmt.Sprintf("/events/%d", fee.Position),
		"corr-annual-fee":        "/events?correlation_id=corr-annual-fee",
		"wallet-dispute-0001":    "/streams/wallet-dispute-0001",
	} {
		if got := search(text); got != want {
			t.Errorf("searching %q landed on %s, want %s", text, got, want)
		}
	}
	if got := search("Wallet-000"); got != "/find?q=Wallet-000" {
		t.Fatalf("searching Wallet-000 landed on %s, want the page to choose", got)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=find-match]').length`))
	if err != nil || n != 2 {
		t.Errorf("the page to choose lists %d matches (%v), want 2", n, err)
	}
}
