package web

import (
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/projections"
)

func TestHeaderBannersOnePerProjectionMostSevereFirst(t *testing.T) {
	t.Parallel()
	got := headerBanners([]projections.Alert{
		{Kind: "lag_seconds", Subject: "orders", Level: "warning", Message: "projection orders is 10m behind"},
		{Kind: "failing", Subject: "orders", Level: "danger", Message: "projection orders is failing"},
		{Kind: "lag_events", Subject: "orders", Level: "warning", Message: "projection orders is 20000 positions behind"},
		{Kind: "stalled", Subject: "wallets", Level: "warning", Message: "projection wallets is stalled"},
		{Kind: "retained_wal", Subject: "auditd", Level: "warning", Message: "slot auditd retains 2 GiB"},
	})
	if len(got) != 3 {
		t.Fatalf("banners = %+v, want 3", got)
	}
	if got[0].Level != "danger" || !strings.HasPrefix(got[0].Text, "projection orders is failing") || !strings.HasSuffix(got[0].Text, "(+2 more)") {
		t.Errorf("orders banner = %+v", got[0])
	}
	if got[0].Href != "/projections/orders" || got[1].Href != "/projections/wallets" || got[2].Href != "/projections" {
		t.Errorf("links: %q %q %q", got[0].Href, got[1].Href, got[2].Href)
	}
}
