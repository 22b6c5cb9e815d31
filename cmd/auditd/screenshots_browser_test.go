package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/auditd/auditd/internal/browsertest"
	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/pgtest"
)

// -screenshots rewrites docs/screenshots/ (shown in the README) from this
// test's run: go test ./cmd/auditd -run TestDemoScreenshots -screenshots
var writeScreenshots = flag.Bool("screenshots", false, "write the pages' screenshots to docs/screenshots/")

// TestDemoScreenshotsInChromium opens the demo's main pages in the real
// Chromium, in the light and the dark theme, wide and 390 px: each is
// checked with axe-core, must be painted in its theme, and is captured.
func TestDemoScreenshotsInChromium(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	// Slots are per cluster, not per database: a slot of its own keeps this
	// demo's live feed apart from the other demo tests' on the same cluster.
	base, line := startCommandOutput(t, "demo", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--events", "3000", "--rate", "2",
		"--slot", "auditd_screenshots")
	ctx := browsertest.New(t, 4*time.Minute)
	// Sign in through the form as the admin, who sees every page.
	cred := strings.Fields(line("demo: sign in as admin "))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"login"),
		chromedp.SetValue(chromedp.CSS(`input[name=username]`), cred[4]),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), cred[6]),
		chromedp.Submit(chromedp.CSS(`form.login-form`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=signed-in]`)),
	); err != nil {
		t.Fatalf("sign in as %s: %v", cred[4], err)
	}
	wallet := "streams/" + demo.DisputeWalletID
	shots := []struct {
		name, path, ready string
		width, height     int64
	}{
		{"overview", "", `[data-testid=newest-events]`, 1280, 860},
		{"timeline", wallet, `#state-panel [data-testid=state-view]`, 1280, 860},
		{"events", "events", `[data-testid=event-row]`, 1280, 860},
		// Before the fee and after the refund: no net difference, and the
		// diff says the balance went 340 → −160 → 340.
		{"diff", wallet + "/diff?from=v:7&to=v:11", `[data-testid=cancelled-row]`, 1280, 860},
		{"field-history", wallet + "/fields?path=/balance", `[data-testid=field-chart] svg`, 1280, 860},
		{"projections", "projections", `[data-testid=projection-panel]`, 1280, 860},
		{"live", "live", `#live-status[data-state=open]`, 1280, 860},
		{"timeline-390", wallet, `[data-testid=event-row]`, 390, 844},
		{"overview-390", "", `[data-testid=newest-events]`, 390, 844},
	}
	bg := map[string]string{"light": "rgb(246, 247, 249)", "dark": "rgb(15, 19, 26)"}
	for _, theme := range []string{"light", "dark"} {
		// Reduced motion: new live rows are shown without their fade, so a
		// screenshot does not catch one half-way.
		if err := chromedp.Do(ctx, browsertest.ColorScheme(theme, &emulation.MediaFeature{Name: "prefers-reduced-motion", Value: "reduce"})); err != nil {
			t.Fatal(err)
		}
		for _, s := range shots {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := chromedp.Do(pctx,
				chromedp.EmulateViewport(s.width, s.height),
				chromedp.Navigate(base+s.path),
				chromedp.WaitVisible(chromedp.CSS(s.ready)),
			)
			if err == nil {
				_, err = chromedp.Run(pctx, chromedp.Poll[bool](`(window.htmx && !document.querySelector('.htmx-request') && document.fonts.status === 'loaded') || null`))
			}
			cancel()
			if err != nil {
				t.Fatalf("%s (%s): %v", s.name, theme, err)
			}
			if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); err != nil || got != bg[theme] {
				t.Errorf("%s: background %q (%v), want the %s theme's %s", s.name, got, err, theme, bg[theme])
			}
			for _, v := range browsertest.Axe(t, ctx) {
				t.Errorf("%s (%s theme): %s", s.name, theme, v)
			}
			if got := browsertest.Overflow(t, ctx); got != "" {
				t.Errorf("%s (%s theme, %d px): %s", s.name, theme, s.width, got)
			}
			shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil || int64(img.Bounds().Dx()) != s.width {
				t.Fatalf("%s: screenshot is not a %d px wide PNG (%v)", s.name, s.width, err)
			}
			if *writeScreenshots {
				name := filepath.Join("..", "..", "docs", "screenshots", fmt.Sprintf("%s-%s.png", s.name, theme))
				if err := os.WriteFile(name, shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
