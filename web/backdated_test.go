package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// insertRecorded inserts an event whose writer set recorded_at itself.
func insertRecorded(t *testing.T, db *pgtest.DB, stream string, version int, ago time.Duration) int64 {
	t.Helper()
	var pos int64
	err := db.Pool.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload, recorded_at)
		VALUES ($1, 'wallet', $2, 'FundsDeposited', '{"amount": 5}', now() - $3::interval) RETURNING position`,
		stream, version, ago.String()).Scan(&pos)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// TestBackdatedEventsAreFlagged: an event recorded 3 h before the commit
// the ledger saw is flagged on the timeline row, in the JSON and on the
// event page; one within the threshold is not, and neither is a
// back-filled one (no true commit time).
func TestBackdatedEventsAreFlagged(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	insertRecorded(t, db, "acct", 1, 5*time.Hour) // before the slot: back-filled
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	back := insertRecorded(t, db, "acct", 2, 3*time.Hour+10*time.Minute)
	insertRecorded(t, db, "acct", 3, 2*time.Minute) // within the 5 min threshold
	last := sqlInsert(t, db, "acct", 4)
	waitLedgerHolds(t, db, last)

	_, page := getBody(t, st.http.URL+"/streams/acct")
	if n := strings.Count(page, `data-testid="backdated"`); n != 1 || !strings.Contains(page, "recorded 3 h before it was committed") {
		t.Fatalf("timeline: %d back-dated flags, want 1 saying 3 h", n)
	}
	code, body := getBody(t, st.http.URL+"/streams/acct?format=json")
	var tl struct {
		Events []struct {
			Version          int     `json:"version"`
			BackdatedSeconds float64 `json:"backdated_seconds"`
		} `json:"events"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &tl) != nil || len(tl.Events) != 4 {
		t.Fatalf("timeline JSON: %d %s", code, body)
	}
	for _, e := range tl.Events {
		flagged := e.BackdatedSeconds > 0
		if flagged != (e.Version == 2) || (flagged && (e.BackdatedSeconds < 3*3600+600 || e.BackdatedSeconds > 3*3600+900)) {
			t.Errorf("v%d: backdated_seconds %v", e.Version, e.BackdatedSeconds)
		}
	}
	if _, page := getBody(t, st.http.URL+"/events/"+strconv.FormatInt(back, 10)); !strings.Contains(page, "recorded 3 h before it was committed") {
		t.Fatal("the event page does not flag the back-dated event")
	}
}
