package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// maxPageHTML is the goal: no page over 2 MB, whatever the data.
const maxPageHTML = 2 << 20

// htmlPage fetches path as HTML, failing unless it is a 200 under
// maxPageHTML, and parses it.
func (b *bundle) htmlPage(path string) *goquery.Document {
	b.t.Helper()
	start := time.Now()
	rec := b.get(path, "text/html")
	b.t.Logf("GET %s: %d bytes in %v", path, rec.Body.Len(), time.Since(start))
	if rec.Code != http.StatusOK {
		b.t.Fatalf("GET %s: status %d; body: %.300s", path, rec.Code, rec.Body.String())
	}
	if n := rec.Body.Len(); n >= maxPageHTML {
		b.t.Errorf("GET %s: %d bytes of HTML, want under %d", path, n, maxPageHTML)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return doc
}

// rawEqual follows a page's raw link and asserts it serves want, JSON-equal.
func (b *bundle) rawEqual(href string, want []byte) {
	b.t.Helper()
	if href == "" {
		b.t.Error("no raw link")
		return
	}
	rec := b.get(href, "")
	if rec.Code != http.StatusOK {
		b.t.Fatalf("GET %s: status %d", href, rec.Code)
	}
	var got, exp any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		b.t.Fatalf("GET %s: %v", href, err)
	}
	if err := json.Unmarshal(want, &exp); err != nil {
		b.t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		b.t.Errorf("GET %s: %d bytes, not the %d stored", href, rec.Body.Len(), len(want))
	}
}

// Huge payloads make bounded pages with marked previews, and the full
// value is one click away.
func TestHugePayloadsMakeBoundedPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var keys strings.Builder
	keys.WriteString(`{`)
	for i := range 100_000 {
		if i > 0 {
			keys.WriteString(",")
		}
		fmt.Fprintf(&keys, `"key%06d":"value <%d>"`, i, i)
	}
	keys.WriteString(`}`)
	blob := `{"blob":"` + strings.Repeat(`a\"<&`, 5<<20/5) + `"}` // quotes escape to 5 bytes each
	bigMeta := `{"actor":"ops","note":"` + strings.Repeat("m", 300<<10) + `"}`
	// A long actor (as long as the store's actor index takes): a label
	// repeated on every state row.
	hugeActor := `{"actor":"` + strings.Repeat("Ä", 1000) + `"}`
	evs := b.append("huge-1", "Huge",
		ev("Keyed", keys.String(), hugeActor),
		ev("Blobbed", blob, bigMeta))
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf(`{"i":%d,"fill":"%s"}`, i, strings.Repeat("f", 200<<10))
	}
	for _, p := range many {
		b.append("many-1", "Many", ev("Filled", p, `{}`))
	}

	// The timeline: the huge events hold more than a page's byte cap, one
	// a page; each a marked preview with raw links.
	doc := b.htmlPage("/streams/huge-1")
	row := doc.Find(`[data-testid=timeline] [data-testid=event-row]`)
	if row.Length() != 1 || row.AttrOr("data-version", "") != "2" || doc.Find(`a[data-testid=page-prev]`).Length() == 0 {
		t.Fatalf("newest timeline page: %d rows, prev link %d", row.Length(), doc.Find(`a[data-testid=page-prev]`).Length())
	}
	if n := row.Find(`[data-testid=truncated]`).Length(); n != 2 {
		t.Errorf("the 5 MB payload and 300 KB metadata have %d truncation marks", n)
	}
	b.rawEqual(row.Find(`[data-testid=raw-payload]`).AttrOr("href", ""), []byte(blob))
	b.rawEqual(row.Find(`[data-testid=raw-metadata]`).AttrOr("href", ""), []byte(bigMeta))
	doc = b.htmlPage("/streams/huge-1?before=2")
	row = doc.Find(`[data-testid=timeline] [data-testid=event-row]`)
	if n := row.Find(`[data-testid=truncated]`).Length(); row.Length() != 1 || n != 1 {
		t.Errorf("the 100k-key payload: %d rows, %d truncation marks", row.Length(), n)
	}
	if n := row.Find(`[data-testid=changes-hidden]`).Length(); n != 1 {
		t.Errorf("the 100k changes are listed whole (hidden mark %d)", n)
	}
	b.rawEqual(row.Find(`[data-testid=raw-payload]`).AttrOr("href", ""), []byte(keys.String()))
	if row.Find(`[data-testid=raw-metadata]`).Length() != 0 {
		t.Error("metadata of 2 KB is cut")
	}

	// Each event's own page.
	for i, want := range []string{keys.String(), blob} {
		doc := b.htmlPage(fmt.Sprintf("/events/%d", evs[i].Position))
		row := doc.Find(`[data-testid=event-detail]`)
		if row.Find(`[data-testid=truncated]`).Length() == 0 {
			t.Errorf("event %d: no truncation mark", i+1)
		}
		b.rawEqual(row.Find(`[data-testid=raw-payload]`).AttrOr("href", ""), []byte(want))
	}
	// By event id, the raw route answers the event whole.
	var whole struct{ Payload map[string]any }
	b.getJSONInto("/events/"+evs[1].EventID+"/raw", &whole)
	if whole.Payload["blob"] != strings.Repeat(`a"<&`, 5<<20/5) {
		t.Errorf("raw event by id: payload of %d fields", len(whole.Payload))
	}

	// The state and the diff: previews, the JSON has it all.
	for _, path := range []string{"/streams/huge-1/state", "/streams/huge-1/state?version=1"} {
		doc := b.htmlPage(path)
		if doc.Find(`[data-testid=truncated]`).Length() != 1 || doc.Find(`[data-testid=state-hidden]`).Length() != 1 {
			t.Errorf("%s: truncated %d, hidden %d", path, doc.Find(`[data-testid=truncated]`).Length(), doc.Find(`[data-testid=state-hidden]`).Length())
		}
		href := doc.Find(`[data-testid=raw-state]`).AttrOr("href", "")
		var st stateResponse
		b.getJSONInto(href, &st)
		if len(st.State) < 100_000 {
			t.Errorf("%s: the state's JSON (%s) has %d fields", path, href, len(st.State))
		}
	}
	doc = b.htmlPage("/streams/huge-1/diff?from=v:0&to=v:2")
	if doc.Find(`[data-testid=truncated]`).Length() != 1 || doc.Find(`[data-testid=diff-hidden]`).Length() != 1 {
		t.Errorf("diff: truncated %d, hidden %d", doc.Find(`[data-testid=truncated]`).Length(), doc.Find(`[data-testid=diff-hidden]`).Length())
	}

	// Many 200 KB events: the page stops at its byte cap, says so and
	// links to the rest; the previews shrink as the rows add up.
	doc = b.htmlPage("/streams/many-1?limit=500")
	shown := versions(doc)
	if len(shown) == 0 || len(shown) >= 30 || shown[len(shown)-1] != 30 {
		t.Fatalf("many-1 newest page shows versions %v", shown)
	}
	older := doc.Find(`a[data-testid=page-prev]`).First().AttrOr("href", "")
	if older != fmt.Sprintf("/streams/many-1?before=%d&limit=500", shown[0]) {
		t.Errorf("older link = %q, shown %v", older, shown)
	}
	if !strings.Contains(doc.Find(`[data-testid=notice]`).Text(), "More events follow") {
		t.Errorf("no byte-cap notice: %q", doc.Find(`[data-testid=notice]`).Text())
	}
	var tl timelineJSON
	b.getJSONInto("/streams/many-1?limit=500", &tl)
	if !tl.BytesCut || tl.Prev == nil || len(tl.Events) != len(shown) {
		t.Errorf("JSON timeline: bytes_cut %v, prev %v, %d events", tl.BytesCut, tl.Prev, len(tl.Events))
	}
	b.getJSONInto(fmt.Sprintf("/streams/many-1?before=%d&limit=500", *tl.Prev), &tl)
	if len(tl.Events) == 0 || tl.Events[len(tl.Events)-1].Version != shown[0]-1 {
		t.Errorf("the older page does not continue where the cut one stopped")
	}
	lastRow := doc.Find(`[data-testid=timeline] [data-testid=event-row]`).Last()
	if lastRow.Find(`[data-testid=truncated]`).Length() != 1 {
		t.Error("the budget did not shrink the last rows' previews")
	}
	b.rawEqual(lastRow.Find(`[data-testid=raw-payload]`).AttrOr("href", ""), []byte(many[29]))

	// The global log, filtered or not, the stream search and the overview.
	for _, path := range []string{"/events", "/events?limit=499", "/events?stream_id=many-1&limit=499", "/events?after=1&limit=499", "/streams?q=huge", "/"} {
		doc := b.htmlPage(path)
		if strings.HasPrefix(path, "/events") && doc.Find(`[data-testid=event-row]`).Length() == 0 {
			t.Errorf("%s: no rows", path)
		}
	}
	var log eventsJSON
	b.getJSONInto("/events?limit=499", &log)
	if !log.BytesCut || log.Next == nil {
		t.Errorf("JSON log: bytes_cut %v, next %v", log.BytesCut, log.Next)
	}
}

func TestEventRawAnswersBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	evs := b.append("raw-1", "Raw", ev("Noted", `{"a": 1, "b": [2, 3]}`, ""))
	pos := fmt.Sprint(evs[0].Position)
	for path, want := range map[string]int{
		"/events/" + pos + "/raw?part=payload":  http.StatusOK,
		"/events/" + pos + "/raw?part=metadata": http.StatusOK,
		"/events/" + pos + "/raw?part=secrets":  http.StatusBadRequest,
		"/events/999999/raw":                    http.StatusNotFound,
		"/events/x/raw":                         http.StatusBadRequest,
	} {
		if rec := b.get(path, ""); rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
	rec := b.get("/events/"+pos+"/raw?part=payload", "")
	if rec.Body.String() != `{"a": 1, "b": [2, 3]}` || !strings.Contains(rec.Header().Get("Content-Disposition"), "event-"+pos+"-payload.json") {
		t.Errorf("raw payload = %q (%q)", rec.Body.String(), rec.Header().Get("Content-Disposition"))
	}
}
