package web

import (
	"net/http"
	"testing"
)

// The timeline loads "is this stream's latest event processed by each
// projection" from the projections fragment.
func TestTimelineLoadsStreamProjectionStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.append("wallet/ü 1", "Wallet", ev("WalletOpened", `{}`, `{}`))
	doc := b.page("/streams/wallet%2F%C3%BC%201", http.StatusOK)
	slot := doc.Find(`[data-testid=stream-projections-slot]`)
	if slot.Length() != 1 {
		t.Fatal("timeline has no projection status slot")
	}
	if got := slot.AttrOr("hx-get", ""); got != "/streams/wallet%2F%C3%BC%201/projections" {
		t.Errorf("slot loads %q", got)
	}
	if slot.AttrOr("hx-trigger", "") != "load" {
		t.Errorf("slot is not loaded on page load")
	}
}
