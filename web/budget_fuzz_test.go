package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// FuzzPagePreview: a preview is the longest prefix of the value, cut at a
// character, whose escaped size fits what the budget allows; it is marked
// cut exactly when it is shorter, and the budget pays its escaped size.
func FuzzPagePreview(f *testing.F) {
	for _, s := range []struct {
		v    string
		left int
		each int
	}{{`{"a": 1}`, 100, 100}, {`<&'">`, 9, 100}, {"ÄÄÄ", 3, 3}, {"日本語", 4, 100}, {"", 0, 0}, {"abc", -5, 10}, {"\xff\xfe<", 5, 5}} {
		f.Add(s.v, s.left, s.each)
	}
	f.Fuzz(func(t *testing.T, v string, left, each int) {
		b := &pageBudget{left: left, each: each}
		text, cut := b.preview(v)
		allow := min(left, each)
		switch {
		case !strings.HasPrefix(v, text):
			t.Fatalf("preview(%q) = %q, not a prefix", v, text)
		case cut != (text != v):
			t.Fatalf("preview(%q) = %q, cut %v", v, text, cut)
		case b.left != left-escapedLen(text):
			t.Fatalf("preview(%q): budget %d → %d, the preview costs %d", v, left, b.left, escapedLen(text))
		case text != "" && escapedLen(text) > allow:
			t.Fatalf("preview(%q) = %q: %d escaped bytes, %d allowed", v, text, escapedLen(text), allow)
		case utf8.ValidString(v) && !utf8.ValidString(text):
			t.Fatalf("preview(%q) = %q cuts a character", v, text)
		}
		// The longest: the next character would not have fitted.
		if cut && len(text) < len(v) {
			_, size := utf8.DecodeRuneInString(v[len(text):])
			if utf8.ValidString(v) && escapedLen(v[:len(text)+size]) <= allow {
				t.Fatalf("preview(%q) = %q, but %q fits %d", v, text, v[:len(text)+size], allow)
			}
		}
	})
}

// FuzzValidQuery: any query string either reaches the handler with every
// name and value UTF-8 text without NUL and within maxQueryValue, or is a
// 400 whose message is short text.
func FuzzValidQuery(f *testing.F) {
	for _, s := range []string{"", "a=1", "stream_id=wallet-1&limit=5", "a=%00", "%FF=1", "a=%zz", "a=%E2%82", "a&b=&=c", "x=" + strings.Repeat("y", 3000), "a=1;b=2"} {
		f.Add(s)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = raw
		c := e.NewContext(req, httptest.NewRecorder())
		reached := false
		err := validQuery(func(c echo.Context) error { reached = true; return nil })(c)
		if err == nil {
			if !reached {
				t.Fatalf("query %q: no error, no handler", raw)
			}
			q, perr := url.ParseQuery(raw)
			if perr != nil {
				t.Fatalf("query %q passed, but does not parse: %v", raw, perr)
			}
			for name, values := range q {
				for _, v := range values {
					if !isText(name) || !isText(v) || len(v) > maxQueryValue {
						t.Fatalf("query %q passed with %q=%q", raw, name, v)
					}
				}
			}
			return
		}
		var he *echo.HTTPError
		if !errors.As(err, &he) || he.Code != http.StatusBadRequest || reached {
			t.Fatalf("query %q: %v (handler reached %v), want a 400", raw, err, reached)
		}
		msg, _ := he.Message.(string)
		if !isText(msg) || len(msg) > 600 {
			t.Fatalf("query %q: a message of %d bytes (text %v)", raw, len(msg), isText(msg))
		}
	})
}
