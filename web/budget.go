package web

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// An HTML page shows data written by other applications (payloads,
// metadata, states, changes) up to a byte budget: one event with 100,000
// keys, or a 5 MB string, must not make a 20 MB page. Values are shown
// whole while they fit, then as marked previews that shrink as the rows of
// the page add up; the full data is one click away (/events/{n}/raw, the
// state's ?format=json). The JSON API is not budgeted.
const (
	// pageDataBudget is what one page spends on data, counted as escaped
	// HTML (and, for the state and diff tables, whose rows can be many,
	// on their markup too). With the event rows' own markup (at most
	// eventstore.MaxPageSize rows) it keeps every page under 2 MB.
	pageDataBudget = 1 << 20
	// maxPreview is the most one value of a list shows: the live feed's
	// large-event size, so a row is shown the same way on a page and live.
	maxPreview = 64 << 10
	// maxDetailPreview is the most one value shows on a page about it (an
	// event's page, a state).
	maxDetailPreview = 256 << 10
	// maxMetaText bounds a header field (actor, source, event type): a
	// label, not a document.
	maxMetaText = 200
	// maxPageEventBytes caps a timeline or log page in stored bytes
	// (payload plus metadata), whatever its limit: the rows past it follow
	// on the next page.
	maxPageEventBytes = 2 << 20
)

// pageBudget is what is left of one page's data budget. A page builds one
// (newPageBudget) and passes it to every value it shows, in page order.
type pageBudget struct {
	left int
	each int // the most one value shows
	// display picks the key fields event rows show (views.Chrome.Display);
	// nil: the first scalar fields of each payload.
	display func(eventType string) ([]string, bool)
}

// rowBudget is newPageBudget for a page of event rows, which show the key
// fields the configuration names.
func rowBudget(ch views.Chrome, each int) *pageBudget {
	b := newPageBudget(each)
	b.display = ch.Display
	return b
}

// newPageBudget is a page's budget, showing at most each bytes of one
// value (maxPreview in lists, maxDetailPreview on a page about one thing).
func newPageBudget(each int) *pageBudget { return &pageBudget{left: pageDataBudget, each: each} }

// noBudget shows no data: for view models that need a row's header only.
func noBudget() *pageBudget { return &pageBudget{} }

// preview is s whole if its escaped size fits both the budget's size for
// one value and what is left of it, else its longest prefix (cut at a
// character) that does, with cut set. It spends what it returns.
func (b *pageBudget) preview(s string) (text string, cut bool) {
	allow := min(b.left, b.each)
	n := escapedPrefix(s, allow)
	text, cut = s[:n], n < len(s)
	b.left -= escapedLen(text)
	return text, cut
}

// spend takes n bytes from the budget, if it has them.
func (b *pageBudget) spend(n int) bool {
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

// escapedLen is len(s) as templ writes it: html escaping turns <, >, &, '
// and " into entities of up to five bytes.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		n += escapeExtra(s[i])
	}
	return n
}

// escapedPrefix is the length of the longest prefix of s, ending at a
// character boundary, whose escaped size is at most allow.
func escapedPrefix(s string, allow int) int {
	cost := 0
	for i := 0; i < len(s); i++ {
		cost += 1 + escapeExtra(s[i])
		if cost > allow {
			for i > 0 && !utf8.RuneStart(s[i]) {
				i--
			}
			return i
		}
	}
	return len(s)
}

// escapeExtra is what escaping adds to the byte c.
func escapeExtra(c byte) int {
	switch c {
	case '<', '>':
		return 3
	case '&', '\'', '"':
		return 4
	}
	return 0
}

// metaText is a header field cut to maxMetaText characters; cut is set
// when it was, so that the row does not link a filter on a value it does
// not hold.
func metaText(s string) (text string, cut bool) {
	if utf8.RuneCountInString(s) <= maxMetaText {
		return s, false
	}
	return string([]rune(s)[:maxMetaText]) + "…", true
}

// byteCapped keeps the first events, in reading order, while their stored
// size (payload plus metadata) adds up to maxPageEventBytes, and always the
// first one; cut reports that some were left for the next page.
func byteCapped(events []eventstore.Event) (kept []eventstore.Event, cut bool) {
	total := 0
	for i := range events {
		total += len(events[i].Payload) + len(events[i].Metadata)
		if i > 0 && total > maxPageEventBytes {
			return events[:i], true
		}
	}
	return events, false
}

// byteCapNotice says why a page holds fewer rows than asked.
func byteCapNotice(shown int) string {
	return fmt.Sprintf("This page stops after %d events: they hold more than %s of data. More events follow on the next page.",
		shown, views.ByteSize(maxPageEventBytes))
}

// ellipsis marks a preview cut.
func ellipsis(text string, cut bool) string {
	if cut {
		return strings.TrimRight(text, " \n") + "\n…"
	}
	return text
}
