package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// getBody GETs url and returns the status and body.
func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestVerifyIntactThenBroken verifies a stream (back-filled and live
// events) as intact, then edits a payload and deletes an event with the
// immutability trigger disabled: broken, from the edited version.
func TestVerifyIntactThenBroken(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	for v := 1; v <= 3; v++ {
		sqlInsert(t, db, "acct", v) // before the slot: back-filled
	}
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	var last int64
	for v := 4; v <= 6; v++ {
		last = sqlInsert(t, db, "acct", v) // witnessed live
	}
	sqlInsert(t, db, "other", 1)
	pgtest.WaitFor(t, "the ledger to hold the stream", 20*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).LastPosition(ctx)
		return n >= last, err
	})
	verify := func() ledger.Verification {
		t.Helper()
		code, body := getBody(t, st.http.URL+"/streams/acct/verify?format=json")
		if code != http.StatusOK {
			t.Fatalf("verify: %d %s", code, body)
		}
		var v ledger.Verification
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verify(); v.StreamID != "acct" || v.Status != "intact" || v.Checked != 6 || len(v.Problems) != 0 || v.FirstBrokenVersion != 0 {
		t.Fatalf("before the edit: %+v", v)
	}
	code, page := getBody(t, st.http.URL+"/streams/acct/verify")
	if code != http.StatusOK || !strings.Contains(page, `data-testid="verify-status"`) || !strings.Contains(page, "intact") {
		t.Fatalf("verify page: %d", code)
	}
	if _, page := getBody(t, st.http.URL+"/streams/acct"); !strings.Contains(page, `href="/streams/acct/verify"`) {
		t.Fatal("the stream page does not link to its verification")
	}

	// The owner disables the trigger, edits and deletes, and re-enables it.
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable;
		UPDATE events SET payload = '{"amount": 500, "note": "<b>hi</b>"}' WHERE stream_id = 'acct' AND version = 2;
		DELETE FROM events WHERE stream_id = 'acct' AND version = 5;
		ALTER TABLE events ENABLE TRIGGER events_immutable`); err != nil {
		t.Fatal(err)
	}
	v := verify()
	want := []ledger.Problem{{Version: 2, Kind: "changed"}, {Version: 5, Kind: "missing"}}
	if v.Status != "broken" || v.FirstBrokenVersion != 2 || v.Checked != 4 || len(v.Problems) != 2 ||
		v.Problems[0].Version != want[0].Version || v.Problems[0].Kind != want[0].Kind ||
		v.Problems[1].Version != want[1].Version || v.Problems[1].Kind != want[1].Kind {
		t.Fatalf("after the edit: %+v, want broken from v2 with %+v", v, want)
	}
	if _, page := getBody(t, st.http.URL+"/streams/acct/verify"); !strings.Contains(page, "broken") || strings.Count(page, `data-testid="verify-problem"`) != 2 {
		t.Fatal("the verify page does not show the two problems")
	}

	// An event the ledger has not got yet is pending, not broken.
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE auditd.ledger ADD CONSTRAINT verify_test_refuses CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	sqlInsert(t, db, "acct", 7)
	if v := verify(); v.Pending != 1 || v.FirstBrokenVersion != 2 || len(v.Problems) != 2 {
		t.Fatalf("with an unwritten event: %+v, want 1 pending", v)
	}
	if code, _ := getBody(t, st.http.URL+"/streams/nope/verify"); code != http.StatusNotFound {
		t.Fatalf("unknown stream: %d, want 404", code)
	}
}

func TestVerifyWithoutLedger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if rec := b.get("/streams/acct/verify", ""); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("without a ledger: %d, want 503", rec.Code)
	}
}
