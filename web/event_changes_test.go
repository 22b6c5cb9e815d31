package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/timetravel"
)

const counterReducers = `{
  "reducers": {"Counter": {"Set": [
    {"op": "inc", "path": "/total", "from": "/balance"},
    {"op": "set", "path": "/last_note", "from": "/note"}
  ]}},
  "upcasters": {"Set": [{"from_version": 1, "ops": [{"op": "default", "path": "/note", "value": "none"}]}]}
}`

// With the time-travel service, timelines, event pages and exports fold
// with the configured reducers and upcasters, from snapshots.
func TestTimelineFoldsWithTheServiceReducers(t *testing.T) {
	t.Parallel()
	cfg, err := timetravel.ParseConfig([]byte(counterReducers), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	var svc *timetravel.Service
	b := setup(t, func(d *Deps) {
		svc = timetravel.NewService(d.Store, cfg, nil, timetravel.ServiceOptions{SnapshotEvery: 10})
		d.TimeTravel = svc
	})
	seedCounter(b, "counter-1", 60, tlT0) // balance v at version v: total = v(v+1)/2

	// A deep page: v51 adds 51 to the total of the first 50 (1275).
	doc := b.page("/streams/counter-1?after=50", http.StatusOK)
	first := doc.Find(`[data-testid=timeline] [data-testid=event-row]`).First()
	total := first.Find(`.change`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.Find(".path").Text() == "/total"
	})
	if total.Find(".old").Text() != "1275" || total.Find(".new").Text() != "1326" {
		t.Errorf("v51 total change = %q", total.Text())
	}
	// The event page folds from the service too: the same change, no error.
	detail := b.page("/events/"+first.AttrOr("data-position", ""), http.StatusOK).Find(`[data-testid=event-detail]`)
	if got := detail.Find(`.change`).Text(); !strings.Contains(got, "1275") || !strings.Contains(got, "1326") ||
		detail.Find(`[data-testid=fold-error]`).Length() != 0 {
		t.Errorf("event page changes = %q, fold error %q", got, detail.Find(`[data-testid=fold-error]`).Text())
	}
	if first.Find(`[data-testid=upcast-payload]`).Length() != 0 {
		t.Error("an upcast payload equal to the stored one is shown")
	}
	if svc.Stats().SnapshotsWritten == 0 {
		t.Error("the page's fold left no snapshots")
	}
	loaded := svc.Stats().SnapshotsLoaded
	b.page("/streams/counter-1?after=55", http.StatusOK)
	if svc.Stats().SnapshotsLoaded <= loaded {
		t.Error("the second page did not start from a snapshot")
	}

	// A rule that cannot apply shows its fold error at the event; an
	// upcast payload that differs is shown next to the stored one.
	b.append("counter-1", "Counter", ev("Set", `{"balance":"lots"}`, `{}`))
	doc = b.page("/streams/counter-1", http.StatusOK)
	lastRow := doc.Find(`[data-testid=timeline] [data-testid=event-row]`).Last()
	if got := lastRow.Find(`[data-testid=fold-error]`).Text(); !strings.Contains(got, "inc") {
		t.Errorf("fold error = %q", got)
	}
	if got := lastRow.Find(`[data-testid=upcast-payload]`).Text(); !strings.Contains(got, `"note": "none"`) {
		t.Errorf("upcast payload = %q", got)
	}

	// The export's state row is the reducers' state.
	x := readCSVExport(t, b.get("/streams/counter-1/export.csv?to="+tlT0.Add(60*3600e9).Format("2006-01-02T15:04:05Z"), "").Body.String())
	if r := x.stateRow("/total"); r == nil || r[2] != "1830" || r[3] != "60" {
		t.Errorf("export state rows = %q", x.state)
	}
}
