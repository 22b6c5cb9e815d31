package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestLivePageShowsStatsRecentEventsAndFilters(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	c := openSSE(t, st.http.URL+"/live/events", "")
	pos := sqlInsert(t, db, "wallet-9", 1)
	c.nextEvent(t) // in the hub's window now

	b := &bundle{t: t, db: db, server: st.server}
	doc := b.page("/live?stream_type=wallet", http.StatusOK)
	if doc.Find("[data-testid=live-connected] .badge-ok").Length() != 1 || strings.TrimSpace(doc.Find("[data-testid=live-total]").Text()) != "1" {
		t.Fatalf("stats: %q", doc.Find("[data-testid=live-stats]").Text())
	}
	if v, _ := doc.Find(`input[name=stream_type]`).Attr("value"); v != "wallet" {
		t.Fatalf("filter not rendered back: %q", v)
	}
	row := doc.Find("#live-feed [data-testid=event-row]")
	if row.Length() != 1 || row.AttrOr("data-position", "") != "1" || row.Find("[data-testid=stream-link]").AttrOr("href", "") != "/streams/wallet-9" {
		t.Fatalf("recent rows: %d", row.Length())
	}
	// The feed resumes right after the rendered rows, with the filters.
	u, err := url.Parse(doc.Find("#live-feed").AttrOr("data-sse-url", ""))
	if err != nil || u.Path != "/live/events" || u.Query().Get("stream_type") != "wallet" || u.Query().Get("last_event_id") == "" {
		t.Fatalf("sse url %q", u)
	}
	if doc.Find(`script[src="/static/live.js"]`).Length() != 1 {
		t.Fatal("live.js not loaded")
	}
	if doc2 := b.page("/live?stream_type=other", http.StatusOK); doc2.Find("[data-testid=live-empty]").Length() != 1 {
		t.Fatal("a filter matching nothing must show the waiting message")
	}

	rec := b.get("/live?format=json", "")
	var got liveJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.Stats == nil || !got.Stats.Connected || got.Stats.EventsTotal != 1 || got.Stats.LastLSN == "" ||
		len(got.Recent) != 1 || got.Recent[0].Position != pos {
		t.Fatalf("json %s", rec.Body.String())
	}
}

func TestLivePageWithoutLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := b.page("/live", http.StatusOK)
	if doc.Find("[data-testid=live-off]").Length() != 1 || doc.Find("#live-feed").Length() != 0 {
		t.Fatal("without a hub the page must say live updates are off")
	}
	if rec := b.get("/alerts", "text/html"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/alerts without live: %d", rec.Code)
	}
}
