package projections

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// A projection has one running job at a time (asking again answers with
// it), and at most MaxRunningJobs run server-wide.
func TestDriftJobsOnePerProjectionAndCapped(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE wallet_balances (wallet_id text PRIMARY KEY, balance numeric, status text)`); err != nil {
		t.Fatal(err)
	}
	wallet(t, eventstore.New(db.Pool), "w-1", [2]string{"WalletOpened", `{}`})
	// MaxRunningJobs+1 projections, all mapped onto the same read model.
	var mappings []string
	for i := range MaxRunningJobs + 1 {
		mappings = append(mappings, fmt.Sprintf(`"p%d": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance"}}`, i))
	}
	cfg := strings.Replace(driftConfigJSON, `"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id",
      "fields": {"/balance": "balance", "/status": "status"}}`, strings.Join(mappings, ",\n"), 1)
	d := NewDrift(db.Pool, parseDrift(t, cfg), nil)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	// Jobs keep running while the read model is locked: each blocks on its
	// first read-model row.
	lock, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `LOCK TABLE wallet_balances IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}

	first, err := d.StartJob("p0")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := d.StartJob("p0"); err != nil || again != first {
		t.Errorf("second start of p0 = %q, %v; want the running job %q", again, err, first)
	}
	ids := []string{first}
	for i := 1; i < MaxRunningJobs; i++ {
		id, err := d.StartJob(fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	if _, err := d.StartJob(fmt.Sprintf("p%d", MaxRunningJobs)); !errors.Is(err, ErrTooManyJobs) {
		t.Errorf("job beyond the cap: %v, want ErrTooManyJobs", err)
	}

	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if job := waitJob(t, d, id); job.Error != "" || job.Done != 1 {
			t.Errorf("job %s: %+v", id, job)
		}
	}
	// Finished: a new start is a new job, and the cap has room again.
	if again, err := d.StartJob("p0"); err != nil || again == first {
		t.Errorf("start after the job finished = %q, %v; want a new job", again, err)
	}
	if _, err := d.StartJob(fmt.Sprintf("p%d", MaxRunningJobs)); err != nil {
		t.Errorf("start under the cap: %v", err)
	}
}

// Finished jobs are dropped oldest first beyond maxJobs; a running job is
// never dropped, however old.
func TestDriftJobListKeepsRunningJobs(t *testing.T) {
	t.Parallel()
	l := jobList{byID: map[string]*Job{}}
	l.add(&Job{ID: "running", Projection: "p"})
	for i := range maxJobs + 5 {
		l.add(&Job{ID: fmt.Sprintf("done-%d", i), Finished: true})
	}
	if _, ok := l.byID["running"]; !ok {
		t.Error("the running job was dropped")
	}
	if len(l.byID) != maxJobs+1 || len(l.order) != maxJobs+1 {
		t.Errorf("kept %d jobs (%d in order), want %d", len(l.byID), len(l.order), maxJobs+1)
	}
	if _, ok := l.byID["done-0"]; ok {
		t.Error("the oldest finished job was kept")
	}
	if _, ok := l.byID[fmt.Sprintf("done-%d", maxJobs+4)]; !ok {
		t.Error("the newest finished job was dropped")
	}
	if j, n := l.running("p"); j == nil || j.ID != "running" || n != 1 {
		t.Errorf("running = %v, %d; want the one running job", j, n)
	}
}
