package browsertest

import (
	"context"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ColorScheme makes the page see prefers-color-scheme as scheme ("light" or
// "dark"), as a viewer's system setting would, and any other media features
// given (prefers-reduced-motion…); each call replaces the previous ones.
func ColorScheme(scheme string, more ...*emulation.MediaFeature) chromedp.Action[chromedp.Void] {
	features := append([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}, more...)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	})
}

// OnNewDocument runs script in every document the tab loads from now on,
// before any of the page's own scripts.
func OnNewDocument(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})
}
