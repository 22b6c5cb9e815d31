package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestChromiumRendersAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>t</title><p id="x">hello</p>`)
	}))
	defer srv.Close()
	ctx := New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("#x"))); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#x")))
	if err != nil {
		t.Fatal(err)
	}
	if got != "hello" {
		t.Errorf("text = %q", got)
	}
}

// Axe finds what a page breaks: an image without alt text and a form field
// without a label, and nothing on a page that breaks nothing.
func TestAxeReportsViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			fmt.Fprint(w, `<!doctype html><html lang="en"><title>t</title><main><h1>x</h1><img src="data:,"><input type="text"></main></html>`)
			return
		}
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>t</title><main><h1>Fine</h1><p>hello</p></main></html>`)
	}))
	defer srv.Close()
	ctx := New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, v := range Axe(t, ctx) {
		found[v.ID] = true
	}
	if !found["image-alt"] || !found["label"] {
		t.Errorf("violations on /bad = %v, want image-alt and label", found)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	if vs := Axe(t, ctx); len(vs) != 0 {
		t.Errorf("violations on a clean page: %v", vs)
	}
}
