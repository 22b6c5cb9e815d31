package pgtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/pgembed"
)

func TestMain(m *testing.M) { Main(m) }

func tableExists(t *testing.T, db *DB, table string) bool {
	t.Helper()
	var exists bool
	err := db.Pool.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1)",
		table).Scan(&exists)
	if err != nil {
		t.Fatalf("look up table %s in %s: %v", table, db.Name, err)
	}
	return exists
}

// TestPureTestsStartNoCluster runs this test binary again with only this
// test selected: a run that never asks for a database must not start
// PostgreSQL, so pure unit tests need none. The child is told apart by an
// environment variable.
func TestPureTestsStartNoCluster(t *testing.T) {
	if os.Getenv("AUDITD_PGTEST_CHILD") == "1" {
		if Cluster() != nil {
			t.Fatal("a cluster runs although no test asked for a database")
		}
		if _, err := os.Stat(filepath.Join(dir, "pgdata")); !os.IsNotExist(err) {
			t.Fatalf("the cluster directory %s holds a data directory (%v)", dir, err)
		}
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPureTestsStartNoCluster$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "AUDITD_PGTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPureTestsStartNoCluster") {
		t.Fatalf("child run: %v\n%s", err, out)
	}
}

func TestTemplateIsMigrated(t *testing.T) {
	t.Parallel()
	db := NewDB(t)
	if !tableExists(t, db, "events") {
		t.Fatalf("table events missing from %s", db.Name)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := NewDB(t), NewDB(t)
	if a.Name == b.Name {
		t.Fatalf("two tests share database %s", a.Name)
	}
	if _, err := a.Pool.Exec(context.Background(), "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if !tableExists(t, a, "only_in_a") {
		t.Fatal("table missing from the database it was created in")
	}
	if tableExists(t, b, "only_in_a") {
		t.Fatal("table created in one test database is visible in another")
	}
}

// TestParallelCreation checks that concurrent NewDB calls do not trip over
// the template being in use.
func TestParallelCreation(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			db := NewDB(t)
			var one int
			if err := db.Pool.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("query: %d %v", one, err)
			}
		})
	}
}

func TestClusterSupportsLogicalSlots(t *testing.T) {
	t.Parallel()
	db := NewDB(t)
	if Cluster() == nil {
		t.Fatal("Cluster() is nil inside Main")
	}
	var lsn string
	if err := db.Pool.QueryRow(context.Background(),
		"SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", db.Name).Scan(&lsn); err != nil {
		t.Fatalf("create logical slot: %v", err)
	}
	if lsn == "" {
		t.Fatal("empty LSN")
	}
}

// TestReapStale plays a test binary that died with its cluster running:
// the next reapStale must stop the postmaster and remove the directory.
func TestReapStale(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	orphan := pgembed.New(pgembed.Config{DataDir: dir, Fast: true})
	if err := orphan.Start(ctx); err != nil {
		t.Fatalf("start orphan cluster: %v", err)
	}
	t.Cleanup(func() { _ = orphan.Stop() })
	pid := postmasterPID(filepath.Join(dir, "pgdata"))
	if pid == 0 {
		t.Fatal("orphan cluster has no live postmaster")
	}

	// A finished child gives a PID that is certainly dead.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.ProcessState.Pid()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(dead)), 0o644); err != nil {
		t.Fatal(err)
	}

	reapStale(slog.New(slog.DiscardHandler))

	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("stale dir %s not removed: %v", dir, err)
	}
	// The postmaster is not our child, so its exit cannot be waited for:
	// watch /proc until it is gone or the deadline passes.
	WaitFor(t, fmt.Sprintf("stale postmaster %d to exit", pid), time.Minute, func(context.Context) (bool, error) {
		return !processAlive(pid) || isZombie(pid), nil
	})

	// Our own (live) cluster must survive the reaper.
	if err := NewDB(t).Pool.Ping(ctx); err != nil {
		t.Fatalf("live cluster unusable after reap: %v", err)
	}
}

// isZombie reports a process that exited but was not reaped by its parent.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
