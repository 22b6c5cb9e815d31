package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
)

// projSetup is a server with the projection monitor and drift checks on a
// wallet_balances read model.
func projSetup(t *testing.T, now time.Time) (*bundle, *projections.Monitor) {
	t.Helper()
	var mon *projections.Monitor
	b := setup(t, func(d *Deps) {
		mon = projections.NewMonitor(d.Pool, nil, projections.Options{
			Clock:      func() time.Time { return now },
			Thresholds: projections.Thresholds{StallAfter: 30 * time.Second, LagEvents: 1000},
			Declared:   []string{"wallet_balances"},
		})
		d.Projections = mon
		if _, err := d.Pool.Exec(t.Context(), `CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric, status text)`); err != nil {
			t.Fatal(err)
		}
		startDrift(t, d, `{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "inc", "path": "/balance", "from": "/amount"}]}},
			"drift": {"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}}}`)
	})
	return b, mon
}

// startDrift configures and starts the drift checker of a test server.
func startDrift(t *testing.T, d *Deps, config string) {
	t.Helper()
	cfg, err := timetravel.ParseConfig([]byte(config), "test")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := projections.ParseDrift(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.Drift = projections.NewDrift(d.Pool, dc, nil)
	if err := d.Drift.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Drift.Stop)
}

func (b *bundle) exec(sql string, args ...any) {
	b.t.Helper()
	if _, err := b.db.Pool.Exec(b.t.Context(), sql, args...); err != nil {
		b.t.Fatal(err)
	}
}

func TestProjectionsJSONShape(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b, _ := projSetup(t, now)
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`), ev("MoneyDeposited", `{"amount": 5}`, `{}`))
	b.exec(`INSERT INTO projection_checkpoints (projection, position, updated_at, last_error, error_count) VALUES ('orders', 1, $1, 'boom', 2)`, now.Add(-time.Minute))

	rec := b.get("/projections", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	if keys := sortedKeys(top); !slices.Equal(keys, []string{"alerts", "head", "projections", "slots"}) {
		t.Errorf("top-level keys %v", keys)
	}
	var body struct {
		Head        map[string]any   `json:"head"`
		Projections []map[string]any `json:"projections"`
		Slots       []map[string]any `json:"slots"`
		Alerts      []map[string]any `json:"alerts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Head) != 2 || body.Head["position"] != 2.0 || body.Head["recorded_at"] == nil {
		t.Errorf("head %v", body.Head)
	}
	if len(body.Projections) != 2 {
		t.Fatalf("projections %v", body.Projections)
	}
	want := []string{"error_count", "eta_seconds", "lag_events", "lag_seconds", "last_error", "name", "position", "rate", "status", "updated_at"}
	for _, p := range body.Projections {
		if keys := sortedKeys(p); !slices.Equal(keys, want) {
			t.Errorf("projection keys %v, want %v", keys, want)
		}
	}
	o := body.Projections[0]
	if o["name"] != "orders" || o["status"] != "failing" || o["lag_events"] != 1.0 || o["last_error"] != "boom" || o["error_count"] != 2.0 {
		t.Errorf("orders %v", o)
	}
	if w := body.Projections[1]; w["name"] != "wallet_balances" || w["updated_at"] != nil || w["position"] != 0.0 {
		t.Errorf("never-wrote projection %v", w)
	}
	if len(body.Alerts) == 0 {
		t.Errorf("no alerts")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestProjectionsPage(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b, mon := projSetup(t, now)
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`), ev("MoneyDeposited", `{"amount": 5}`, `{}`))
	b.exec(`INSERT INTO projection_checkpoints (projection, position, updated_at) VALUES ('stuck', 1, $1), ('current', 2, $2)`, now.Add(-time.Hour), now)
	// A sample, so the sparkline has points.
	if _, err := projections.NewSampler(mon, nil, time.Second, time.Hour).SampleOnce(t.Context()); err != nil {
		t.Fatal(err)
	}

	doc := b.page("/projections", http.StatusOK)
	status := map[string]string{}
	doc.Find(`[data-testid="projection-panel"]`).Each(func(_ int, s *goquery.Selection) {
		status[s.AttrOr("data-name", "")] = s.AttrOr("data-status", "")
	})
	if status["stuck"] != "stalled" || status["current"] != "caught-up" || status["wallet_balances"] == "" {
		t.Errorf("statuses %v", status)
	}
	stuck := doc.Find(`[data-name="stuck"]`)
	if got := stuck.Find(`[data-testid="lag-events"]`).Text(); got != "1" {
		t.Errorf("stuck lag-events %q", got)
	}
	if stuck.Find(`[data-testid="sparkline"] svg polyline`).Length() != 1 {
		t.Errorf("stuck has no sparkline polyline")
	}
	if !strings.Contains(doc.Find(".proj-intro").Text(), "positions") {
		t.Errorf("the page does not say lag counts positions")
	}
	if doc.Find(`[data-testid="projection-alert"]`).Length() == 0 {
		t.Errorf("no alert for the stalled projection")
	}
	if doc.Find(`[data-name="wallet_balances"] [data-testid="anomaly"]`).Length() != 1 {
		t.Errorf("never-wrote projection shows no anomaly")
	}
	panels := doc.Find(`#projection-panels`)
	if trig := panels.AttrOr("hx-trigger", ""); !strings.Contains(trig, "every 1s") {
		t.Errorf("panels hx-trigger %q", trig)
	}
	if doc.Find(`[data-testid="slots-panel"]`).Length() != 1 {
		t.Errorf("no slots panel")
	}

	// The fragment is the panels without the layout.
	rec := b.get("/projections?fragment=panels", "text/html")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "<html") || !strings.Contains(rec.Body.String(), `data-name="stuck"`) {
		t.Errorf("fragment %d: %.300s", rec.Code, rec.Body)
	}
	if rec := b.get("/projections?fragment=nope", "text/html"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad fragment: %d", rec.Code)
	}
}

func TestProjectionDetail(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b, _ := projSetup(t, now)
	evs := b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`), ev("Poison", `{"x": 1}`, `{}`))
	b.exec(`INSERT INTO projection_checkpoints (projection, position, updated_at, last_error, error_count) VALUES ('fraud', $1, $2, 'cannot score Poison', 4)`, evs[0].Position, now)

	doc := b.page("/projections/fraud?window=15m", http.StatusOK)
	rows := doc.Find(`[data-testid="unprocessed"] [data-testid="event-row"]`)
	if rows.Length() != 1 || rows.AttrOr("data-position", "") != strconv.FormatInt(evs[1].Position, 10) {
		t.Errorf("unprocessed rows: %d", rows.Length())
	}
	if !strings.Contains(doc.Find(`[data-testid="error-details"]`).Text(), "cannot score Poison") {
		t.Errorf("no error details")
	}
	if doc.Find(`[data-testid="windows"] a.active`).Text() != "15m" {
		t.Errorf("active window %q", doc.Find(`[data-testid="windows"] a.active`).Text())
	}
	for path, want := range map[string]int{
		"/projections/fraud?window=2h":   http.StatusBadRequest,
		"/projections/nope":              http.StatusNotFound,
		"/projections/wallet_balances":   http.StatusOK, // declared, never wrote
		"/projections/fraud/drift":       http.StatusNotFound,
		"/projections/fraud?window=24h":  http.StatusOK,
		"/streams/nope/projections":      http.StatusNotFound,
		"/projections/fraud?format=json": http.StatusOK,
	} {
		if rec := b.get(path, "text/html"); rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

func TestStreamProjectionsFragment(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b, _ := projSetup(t, now)
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`)) // 1
	b.append("wallet-2", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`)) // 2
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 5}`, `{}`)) // 3
	b.exec(`INSERT INTO projection_checkpoints (projection, position) VALUES ('wallet_balances', 2)`)

	doc := b.page("/streams/wallet-1/projections", http.StatusOK)
	item := doc.Find(`[data-testid="stream-projection"][data-projection="wallet_balances"]`)
	if item.AttrOr("data-processed", "") != "false" || !strings.Contains(item.Text(), "1 event behind") {
		t.Errorf("wallet-1: %q processed=%s", item.Text(), item.AttrOr("data-processed", ""))
	}
	doc = b.page("/streams/wallet-2/projections", http.StatusOK)
	if doc.Find(`[data-projection="wallet_balances"]`).AttrOr("data-processed", "") != "true" {
		t.Errorf("wallet-2 not processed")
	}
	rec := b.get("/streams/wallet-1/projections", "application/json")
	var body struct {
		StreamID    string                               `json:"stream_id"`
		Projections []projections.StreamProjectionStatus `json:"projections"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.StreamID != "wallet-1" || len(body.Projections) != 1 || body.Projections[0].EventsBehind != 1 {
		t.Errorf("json %d %s (%v)", rec.Code, rec.Body, err)
	}
}

func TestDriftPages(t *testing.T) {
	t.Parallel()
	b, _ := projSetup(t, time.Now())
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 10.50}`, `{}`))
	b.append("wallet-2", "Wallet", ev("MoneyDeposited", `{"amount": 7}`, `{}`))
	b.exec(`INSERT INTO wallet_balances VALUES ('wallet-1', 10.5, 'open'), ('wallet-2', 8, 'open')`)
	b.exec(`INSERT INTO projection_checkpoints (projection, position) VALUES ('wallet_balances', 2)`)

	doc := b.page("/projections/wallet_balances/drift", http.StatusOK)
	rows := doc.Find(`[data-testid="drifted-field"]`)
	if rows.Length() != 1 || rows.AttrOr("data-stream-id", "") != "wallet-2" ||
		rows.Find(`[data-testid="expected"]`).Text() != "7" || rows.Find(`[data-testid="actual"]`).Text() != "8" {
		t.Errorf("drift rows: %d %q", rows.Length(), rows.Text())
	}
	if rec := b.get("/projections/wallet_balances/drift?sample=0", "text/html"); rec.Code != http.StatusBadRequest {
		t.Errorf("sample=0: %d", rec.Code)
	}

	// "Check all": POST with the CSRF token from the page, then the job.
	token := doc.Find(`input[name="_csrf"]`).AttrOr("value", "")
	req := httptest.NewRequest(http.MethodPost, "/projections/wallet_balances/drift/jobs", strings.NewReader(url.Values{"_csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: "auditd_csrf", Value: token})
	rec := httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST job: %d %s", rec.Code, rec.Body)
	}
	var created struct {
		JobID string `json:"job_id"`
		URL   string `json:"url"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.JobID == "" {
		t.Fatalf("created %s (%v)", rec.Body, err)
	}
	job := waitJobHTTP(t, b, created.URL)
	if job.Done != 2 || len(job.Drifted) != 1 || job.Drifted[0].StreamID != "wallet-2" {
		t.Errorf("job %+v", job)
	}
	doc = b.page(created.URL, http.StatusOK)
	if doc.Find(`[data-testid="drift-job"]`).AttrOr("data-finished", "") != "true" || doc.Find(`progress`).AttrOr("value", "") != "100" {
		t.Errorf("finished job page")
	}

	// Without the token the POST is refused.
	req = httptest.NewRequest(http.MethodPost, "/projections/wallet_balances/drift/jobs", nil)
	rec = httptest.NewRecorder()
	b.server.Handler().ServeHTTP(rec, req)
	if rec.Code < 400 || rec.Code >= 500 {
		t.Errorf("POST without CSRF token: %d", rec.Code)
	}
	if rec := b.get("/projections/wallet_balances/drift/jobs/nope", "text/html"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d", rec.Code)
	}
}

// waitJobHTTP polls a job's JSON until it is finished, within a deadline.
func waitJobHTTP(t *testing.T, b *bundle, u string) projections.Job {
	t.Helper()
	var job projections.Job
	pgtest.WaitFor(t, "the drift job at "+u+" to finish", 20*time.Second, func(context.Context) (bool, error) {
		rec := b.get(u, "application/json")
		job = projections.Job{}
		if err := json.Unmarshal(rec.Body.Bytes(), &job); err != nil {
			return false, fmt.Errorf("job %d %s", rec.Code, rec.Body)
		}
		return job.Finished, nil
	})
	return job
}

func TestProjectionsDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/projections", "/projections/x", "/projections/x/drift", "/streams/x/projections"} {
		if rec := b.get(p, "text/html"); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s without the monitor: %d", p, rec.Code)
		}
	}
}
