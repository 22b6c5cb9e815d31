// Package static embeds auditd's CSS, JavaScript and the vendored htmx
// (htmx.org 2.0.11 and its SSE extension htmx-ext-sse 2.2.4), so the
// dashboard works offline.
package static

import (
	"embed"
	"net/http"
)

//go:embed *.css *.js *.svg
var FS embed.FS

// Handler serves the embedded files under /static/. Assets change only with
// the binary, so they are cacheable for a day.
func Handler() http.Handler {
	fs := http.StripPrefix("/static/", http.FileServerFS(FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fs.ServeHTTP(w, r)
	})
}
