package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// postVerify starts a whole-store verification as the page's form does.
func postVerify(t *testing.T, base string) *http.Response {
	t.Helper()
	const token = "test-csrf-token-0123456789abcdef"
	req, err := http.NewRequest(http.MethodPost, base+"/verify", strings.NewReader(url.Values{"_csrf": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: "auditd_csrf", Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// waitLedgerHolds waits until the witness ledger lists position last.
func waitLedgerHolds(t *testing.T, db *pgtest.DB, last int64) {
	t.Helper()
	pgtest.WaitFor(t, "the ledger to hold the events", 20*time.Second, func(ctx context.Context) (bool, error) {
		n, err := ledger.NewStore(db.Pool).LastPosition(ctx)
		return n >= last, err
	})
}

// waitVerified waits for the whole-store verification to finish.
func waitVerified(t *testing.T, base string) ledger.AuditReport {
	t.Helper()
	var r ledger.AuditReport
	pgtest.WaitFor(t, "the whole-store verification", 30*time.Second, func(context.Context) (bool, error) {
		code, body := getBody(t, base+"/verify?format=json")
		if code != http.StatusOK {
			t.Fatalf("GET /verify: %d %s", code, body)
		}
		r = ledger.AuditReport{}
		err := json.Unmarshal([]byte(body), &r)
		return !r.Running && !r.FinishedAt.IsZero(), err
	})
	return r
}

// TestLedgerVerifyPageRaisesATamperAlert: /verify starts a whole-store
// verification from its form, reports it intact, then after an edit with
// the trigger disabled broken, with the problem listed and a tamper alert
// (kind verify) on /alerts and in the header banner, once however many
// runs find it.
func TestLedgerVerifyPageRaisesATamperAlert(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	sqlInsert(t, db, "acct", 1) // back-filled
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	var last int64
	for v := 2; v <= 4; v++ {
		last = sqlInsert(t, db, "acct", v)
	}
	waitLedgerHolds(t, db, last)
	if code, page := getBody(t, st.http.URL+"/verify"); code != http.StatusOK || !strings.Contains(page, `data-testid="verify-never"`) || !strings.Contains(page, `data-testid="verify-start"`) {
		t.Fatalf("GET /verify before any run: %d", code)
	}
	if resp := postVerify(t, st.http.URL); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /verify: %d", resp.StatusCode)
	}
	if r := waitVerified(t, st.http.URL); r.Status != "intact" || r.EventsChecked != 4 || r.ProblemCount != 0 || r.Trigger != "manual" {
		t.Fatalf("intact run: %+v", r)
	}
	if _, page := getBody(t, st.http.URL+"/verify?fragment=progress"); !strings.Contains(page, `data-running="false"`) || !strings.Contains(page, ">intact<") {
		t.Fatalf("progress fragment after the run: %s", page)
	}

	if _, err := db.Pool.Exec(ctx, `ALTER TABLE events DISABLE TRIGGER events_immutable;
		UPDATE events SET payload = '{"amount": 500}' WHERE stream_id = 'acct' AND version = 3;
		ALTER TABLE events ENABLE TRIGGER events_immutable`); err != nil {
		t.Fatal(err)
	}
	// The consumer sees the UPDATE in the WAL first (its own alert), so
	// the verification's alert is the latest, the one the banner names.
	pgtest.WaitFor(t, "the WAL tamper alert", 20*time.Second, func(ctx context.Context) (bool, error) {
		sum, err := live.NewAlerts(db.Pool).Summary(ctx)
		return sum.Count == 1, err
	})
	for range 2 { // the second run finds the same break: no second alert
		postVerify(t, st.http.URL)
		r := waitVerified(t, st.http.URL)
		if r.Status != "broken" || r.ProblemCount != 1 || r.Problems[0].Kind != "changed" || r.Problems[0].Version != 3 {
			t.Fatalf("broken run: %+v", r)
		}
	}
	_, page := getBody(t, st.http.URL+"/verify")
	if !strings.Contains(page, `data-kind="changed"`) || !strings.Contains(page, `href="/streams/acct"`) {
		t.Fatal("the page does not list the changed event")
	}
	code, body := getBody(t, st.http.URL+"/alerts?format=json")
	var alerts struct{ Alerts []live.Alert }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &alerts) != nil {
		t.Fatalf("alerts: %d %s", code, body)
	}
	n := 0
	for _, a := range alerts.Alerts {
		if a.Kind == "verify" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d verify alerts after two broken runs, want 1: %s", n, body)
	}
	st.banners.Refresh(ctx)
	if _, page := getBody(t, st.http.URL+"/streams"); !strings.Contains(page, "2 tamper alerts; latest: Tamper alert: verifying the store against the witness ledger found 1 problems") {
		i := strings.Index(page, "banner")
		t.Fatalf("no tamper banner for the broken verification: %s", page[max(0, i-200):min(len(page), i+600)])
	}
}

// TestLedgerWriteFailureShowsABannerUntilFixed makes the ledger refuse
// writes (a trigger raising disk_full, as a full disk does), then fixes
// it: meanwhile live goes on, the header says the ledger cannot be
// written and the slot is not confirmed past the refused transactions;
// once fixed the banner clears by itself and the ledger holds every event,
// its chain unbroken.
func TestLedgerWriteFailureShowsABannerUntilFixed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	slot := newLiveSlot(t, db)
	st, _ := startLive(t, db, slot, live.HubConfig{})
	feed := openSSE(t, st.http.URL+"/live/events?format=json", "")
	lstore := ledger.NewStore(db.Pool)
	first := sqlInsert(t, db, "acct", 1)
	feed.nextEvent(t)
	waitLedgerHolds(t, db, first)
	banner := func() string {
		st.banners.Refresh(ctx)
		_, page := getBody(t, st.http.URL+"/streams")
		if i := strings.Index(page, "The witness ledger cannot be written"); i >= 0 {
			return page[i:min(len(page), i+300)]
		}
		return ""
	}
	if b := banner(); b != "" {
		t.Fatalf("a banner while the ledger is written: %s", b)
	}

	if _, err := db.Pool.Exec(ctx, `CREATE FUNCTION auditd.test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
		CREATE TRIGGER test_disk_full BEFORE INSERT ON auditd.ledger FOR EACH ROW EXECUTE FUNCTION auditd.test_disk_full()`); err != nil {
		t.Fatal(err)
	}
	var last int64
	for v := 2; v <= 6; v++ {
		last = sqlInsert(t, db, "acct", v)
		feed.nextEvent(t) // live goes on
	}
	pgtest.WaitFor(t, "the write failure", 20*time.Second, func(context.Context) (bool, error) {
		return st.witness.Stats().LastError != "", nil
	})
	if b := banner(); !strings.Contains(b, "No space left on device") || !strings.Contains(b, "live continues, slot confirmation paused") {
		t.Fatalf("banner while the ledger refuses writes: %q", b)
	}
	// The slot stays at or before the oldest refused transaction: the
	// server keeps it for the retry.
	if st.witness.Stats().Queued == 0 {
		t.Fatal("nothing queued while the ledger refuses writes")
	}
	oldest := st.witness.Confirmable(math.MaxUint64)
	var confirmed uint64
	if err := db.Pool.QueryRow(ctx, `SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	if confirmed > oldest {
		t.Fatalf("slot confirmed to %X past the oldest refused transaction %X", confirmed, oldest)
	}

	if _, err := db.Pool.Exec(ctx, `DROP TRIGGER test_disk_full ON auditd.ledger`); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, "the ledger to catch up", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := lstore.LastPosition(ctx)
		return n >= last && st.witness.Stats().LastError == "", err
	})
	if b := banner(); b != "" {
		t.Fatalf("the banner stays after the ledger is fixed: %s", b)
	}
	entries, err := lstore.Entries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var positions []int64
	for _, e := range entries {
		for _, ev := range e.Events {
			positions = append(positions, ev.Position)
		}
	}
	if len(positions) != 6 || positions[0] != first || positions[5] != last {
		t.Fatalf("ledger positions %v, want the six events %d..%d once each", positions, first, last)
	}
	if n, err := lstore.VerifyChain(ctx); err != nil || n != 6 {
		t.Fatalf("VerifyChain = %d, %v", n, err)
	}
}
