package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/projections"
)

// POST /projections/{name}/drift/jobs while the projection's job runs
// answers with that job; beyond the server-wide cap it answers 429.
func TestDriftJobPOSTRunningJobAndCap(t *testing.T) {
	t.Parallel()
	var mappings []string
	for i := range projections.MaxRunningJobs + 1 {
		mappings = append(mappings, fmt.Sprintf(`"p%d": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}`, i))
	}
	b := setup(t, func(d *Deps) {
		if _, err := d.Pool.Exec(t.Context(), `CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric)`); err != nil {
			t.Fatal(err)
		}
		startDrift(t, d, `{"reducers": {}, "drift": {`+strings.Join(mappings, ",")+`}}`)
	})
	b.append("wallet-1", "Wallet", ev("MoneyDeposited", `{"amount": 1}`, `{}`))
	token := b.page("/projections/p0/drift", http.StatusOK).Find(`input[name="_csrf"]`).AttrOr("value", "")
	post := func(name string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/projections/"+name+"/drift/jobs", strings.NewReader(url.Values{"_csrf": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: "auditd_csrf", Value: token})
		rec := httptest.NewRecorder()
		b.server.Handler().ServeHTTP(rec, req)
		return rec
	}
	jobID := func(rec *httptest.ResponseRecorder) string {
		t.Helper()
		var created struct {
			JobID string `json:"job_id"`
		}
		if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &created) != nil || created.JobID == "" {
			t.Fatalf("POST job: %d %s", rec.Code, rec.Body)
		}
		return created.JobID
	}

	// Jobs keep running while the read model is locked.
	lock, err := b.db.Pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(t.Context())
	if _, err := lock.Exec(t.Context(), `LOCK TABLE wallet_balances IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	first := jobID(post("p0"))
	if again := jobID(post("p0")); again != first {
		t.Errorf("second POST answered job %q, want the running %q", again, first)
	}
	for i := 1; i < projections.MaxRunningJobs; i++ {
		jobID(post(fmt.Sprintf("p%d", i)))
	}
	rec := post(fmt.Sprintf("p%d", projections.MaxRunningJobs))
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "too many drift jobs") {
		t.Errorf("POST beyond the cap: %d %s", rec.Code, rec.Body)
	}
	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if job := waitJobHTTP(t, b, "/projections/p0/drift/jobs/"+first); job.Done != 1 || job.Error != "" {
		t.Errorf("job %+v", job)
	}
}
