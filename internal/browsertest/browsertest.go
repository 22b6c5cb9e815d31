// Package browsertest drives the machine's real Chromium (Debian's
// /usr/bin/chromium) with chromedp for end-to-end tests. It never downloads a
// browser of its own.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds the browser: $AUDITD_CHROMIUM, then chromium on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("AUDITD_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// New returns a chromedp context on a fresh headless Chromium, closed when
// the test ends. The whole browser session is bounded by timeout (default
// 60 s) so a hung page fails the test instead of the CI run. A missing
// browser fails the test: `make test` installs Debian's chromium.
func New(t testing.TB, timeout ...time.Duration) context.Context {
	t.Helper()
	path, err := ChromiumPath()
	if err != nil {
		t.Fatalf("browsertest: chromium not found (install Debian's chromium: apt-get install -y chromium): %v", err)
	}
	limit := 60 * time.Second
	if len(timeout) > 0 {
		limit = timeout[0]
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1400, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, on a context without a deadline (a deadline on
	// the first run would bound the browser's life), so that start-up
	// failures are reported here.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("browsertest: unable to start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, limit)
	t.Cleanup(cancelTimeout)
	return ctx
}
