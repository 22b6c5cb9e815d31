package web

import (
	"context"
	"errors"
	"testing"

	"github.com/auditd/auditd/views"
)

// Pages read what the refresher last computed; a failing source keeps its
// last answer instead of blanking the header.
func TestBannerRefresherKeepsLastGoodAnswer(t *testing.T) {
	t.Parallel()
	var fail bool
	text := "first"
	flaky := func(context.Context) ([]views.Banner, error) {
		if fail {
			return nil, errors.New("database down")
		}
		return []views.Banner{{Level: "danger", Text: text}}, nil
	}
	steady := func(context.Context) ([]views.Banner, error) {
		return []views.Banner{{Level: "warning", Text: "steady"}}, nil
	}
	r := NewBannerRefresher(nil, 3600e9, flaky, steady)
	if got := r.Banners(); len(got) != 0 {
		t.Errorf("before Start: %v", got)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if got := r.Banners(); len(got) != 2 || got[0].Text != "first" || got[1].Text != "steady" {
		t.Fatalf("after Start: %v", got)
	}
	fail, text = true, "second"
	r.Refresh(t.Context())
	if got := r.Banners(); len(got) != 2 || got[0].Text != "first" {
		t.Errorf("after a failed refresh: %v", got)
	}
	fail = false
	r.Refresh(t.Context())
	if got := r.Banners(); len(got) != 2 || got[0].Text != "second" {
		t.Errorf("after a good refresh: %v", got)
	}
	var none *BannerRefresher
	if none.Banners() != nil {
		t.Error("a nil refresher has banners")
	}
}
