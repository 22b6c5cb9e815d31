package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/views"
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

// A banner that stands for several alerts expands to list them all, with
// its link; a banner for one alert stays one line.
func TestHeaderBannersExpandToEveryAlert(t *testing.T) {
	t.Parallel()
	alerts := []projections.Alert{
		{Kind: "lag_seconds", Subject: "orders", Level: "warning", Message: "projection orders is 10m behind"},
		{Kind: "failing", Subject: "orders", Level: "danger", Message: "projection orders is failing"},
		{Kind: "stalled", Subject: "wallets", Level: "warning", Message: "projection wallets is stalled"},
	}
	b := setup(t, func(d *Deps) {
		d.Banners = NewBannerRefresher(nil, time.Hour, func(context.Context) ([]views.Banner, error) { return headerBanners(alerts), nil })
	})
	b.server.deps.Banners.Refresh(t.Context())
	doc := b.page("/streams", http.StatusOK)
	details := doc.Find(`[data-testid=banner] [data-testid=banner-details]`)
	if details.Length() != 1 {
		t.Fatalf("expandable banners = %d, want 1 (orders)", details.Length())
	}
	if s := details.Find("summary").Text(); s != "projection orders is failing (+1 more)" {
		t.Errorf("summary = %q", s)
	}
	var lines []string
	details.Find("li").Each(func(_ int, s *goquery.Selection) { lines = append(lines, s.Text()) })
	if strings.Join(lines, "|") != "projection orders is 10m behind|projection orders is failing" ||
		details.Find(`[data-testid=banner-link]`).AttrOr("href", "") != "/projections/orders" {
		t.Errorf("expanded = %q, link %q", lines, details.Find(`a`).AttrOr("href", ""))
	}
	if one := doc.Find(`[data-testid=banner]`).Eq(1); one.Find("details").Length() != 0 || one.Find("a").AttrOr("href", "") != "/projections/wallets" {
		t.Errorf("the one-alert banner is not a plain line: %s", one.Text())
	}
}
