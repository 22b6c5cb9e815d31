package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// overflowJS lists the elements that stick out past the window's right
// edge, the widest first, when the document scrolls sideways.
const overflowJS = `(function () {
	if (document.documentElement.scrollWidth <= innerWidth) { return ""; }
	var out = [];
	document.querySelectorAll("body *").forEach(function (el) {
		var r = el.getBoundingClientRect();
		if (r.right > innerWidth + 0.5 && r.width > 0) {
			out.push({w: r.right, d: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
				(el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + " right=" + Math.round(r.right)});
		}
	});
	out.sort(function (a, b) { return b.w - a.w; });
	return "scrollWidth " + document.documentElement.scrollWidth + " > " + innerWidth + ": " +
		out.slice(0, 5).map(function (o) { return o.d; }).join(", ");
})()`

// Overflow reports what makes the current page of ctx scroll sideways: ""
// when the document is no wider than the window, else its width and the
// (at most five) elements that stick out furthest, to name in a failure.
func Overflow(t testing.TB, ctx context.Context) string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](overflowJS))
	if err != nil {
		t.Fatalf("browsertest: overflow check: %v", err)
	}
	return out
}
