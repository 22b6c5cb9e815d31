// Package views holds auditd's templ components: the layout, pages, and the
// rows shared by pages and live fragments. Components take view models and
// never touch the database.
package views

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Chrome is what the layout needs on every page.
type Chrome struct {
	Title     string
	Nav       string // active navigation entry: overview, streams, events, live, projections
	CSRFToken string
	Banners   []Banner
	// User and Role are who is signed in (empty: nobody); the header
	// shows them with a sign-out button.
	User string
	Role string
	// AuthOff marks a server running with --auth=off: every page says so.
	AuthOff bool
	// Display names the key payload fields event rows show inline, per
	// event type (the configuration's "display" section); nil or !ok: the
	// payload's first scalar fields. The layout shows nothing of it: the
	// pages' row builders read it.
	Display func(eventType string) (paths []string, ok bool)
	// CaseForm shows the header's case reference form (a signed-in
	// session), with the session's CaseRef and Path (the page to return
	// to) in it; AccessLog the link to the access log (compliance, admin).
	CaseForm  bool
	CaseRef   string
	Path      string
	AccessLog bool
}

// Banner is a notice in every page's header: a tamper alert, a projection
// that is stalled.
type Banner struct {
	Level string // "danger", "warning", "info"
	Text  string
	Href  string
	// ID names a banner scripts replace in place (the database outage's,
	// which static/app.js shows and clears on the feeds' status messages).
	ID string
	// Details are shown when the banner is expanded, one line each
	// (every alert a summary line stands for); "": the banner is one
	// line. A string, so that banners stay comparable.
	Details string
}

// ErrorVM is an error page.
type ErrorVM struct {
	Status     int
	Title      string
	Message    string
	ShowSearch bool
	// RetryAfter (seconds, 0: never) makes static/app.js reload the page:
	// an outage's 503 turns into the page once the database is back.
	RetryAfter int
}

type navItem struct {
	Key, Label, Href string
}

var navItems = []navItem{
	{"overview", "Overview", "/"},
	{"streams", "Streams", "/streams"},
	{"events", "Events", "/events"},
	{"live", "Live", "/live"},
	{"projections", "Projections", "/projections"},
}

// navItems are the header's entries for ch: the access log's only for
// those who may read it.
func (ch Chrome) navItems() []navItem {
	if !ch.AccessLog {
		return navItems
	}
	return append(navItems[:len(navItems):len(navItems)], navItem{"access-log", "Access log", "/access-log"})
}

// PrettyJSON indents raw JSON for display; invalid JSON is returned as is
// (templ escapes it either way).
func PrettyJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	// UseNumber keeps numbers as written: 125.50 stays 125.50 and large ids
	// keep every digit.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	// No HTML escaping here: templ escapes the text, and users must see
	// "<" rather than "\u003c" in payloads.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// UTC formats t for display and for the title attribute; the browser
// rewrites the text into the viewer's zone (static/app.js).
func UTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// ISO is t in RFC 3339 with milliseconds, for datetime attributes and URLs.
func ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// Itoa is strconv.Itoa for templates.
func Itoa(n int) string { return strconv.Itoa(n) }

// I64 formats an int64.
func I64(n int64) string { return strconv.FormatInt(n, 10) }

// Thousands formats n with thin separators: 1 234 567.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := false
	if n < 0 {
		neg, s = true, s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// PathEscape escapes a stream id for a URL path segment.
func PathEscape(s string) string { return url.PathEscape(s) }

// QueryEscape escapes a value for a query string.
func QueryEscape(s string) string { return url.QueryEscape(s) }

// Short abbreviates long ids for display (the full id stays in title/links).
func Short(s string) string {
	r := []rune(s)
	if len(r) <= 13 {
		return s
	}
	return string(r[:8]) + "…"
}

// ByteSize is n bytes for people: 512 B, 64.0 KB, 5.0 MB.
func ByteSize(n int) string {
	switch {
	case n < 1000:
		return strconv.Itoa(n) + " B"
	case n < 1000*1000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
