package web

import (
	"net/http"
	"testing"
	"time"
)

// The timeline loads "is this stream's latest event processed by each
// projection" from the projections fragment, and that fragment answers for
// ids a URL has to escape.
func TestTimelineLoadsStreamProjectionStatus(t *testing.T) {
	t.Parallel()
	b, _ := projSetup(t, time.Now())
	b.append("wallet/ü 1", "Wallet", ev("WalletOpened", `{}`, `{}`))
	doc := b.page("/streams/wallet%2F%C3%BC%201", http.StatusOK)
	slot := doc.Find(`[data-testid=stream-projections-slot]`)
	if slot.Length() != 1 {
		t.Fatal("timeline has no projection status slot")
	}
	got := slot.AttrOr("hx-get", "")
	if got != "/streams/wallet%2F%C3%BC%201/projections" {
		t.Errorf("slot loads %q", got)
	}
	if slot.AttrOr("hx-trigger", "") != "load" {
		t.Errorf("slot is not loaded on page load")
	}
	frag := b.page(got, http.StatusOK)
	if frag.Find(`[data-testid="stream-projection"][data-projection="wallet_balances"]`).Length() != 1 {
		t.Errorf("fragment for an escaped id: %q", frag.Text())
	}
	for _, id := range []string{"50%25%20off", "a%2Fb", "caf%C3%A9"} {
		if rec := b.get("/streams/"+id+"/projections", "application/json"); rec.Code != http.StatusNotFound {
			t.Errorf("unknown %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	// Ids that are no stream ids are a 400, as on every other stream route.
	for _, id := range []string{"%FF", "a%00b"} {
		if rec := b.get("/streams/"+id+"/projections", "application/json"); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", id, rec.Code, rec.Body)
		}
	}
}
