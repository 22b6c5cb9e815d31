// Package pgtest gives tests a real PostgreSQL: one private cluster per test
// binary and a fresh, fully migrated database per test (NewDB), cloned from a
// template so each test pays milliseconds, not a migration run.
//
// The cluster starts on the first NewDB, not in Main: a run of pure unit
// tests (`go test -run TestCursor`) needs no PostgreSQL and pays nothing.
//
// Usage:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		db := pgtest.NewDB(t)
//		... db.Pool ...
//	}
package pgtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/schema"
)

// TemplateDB is the migrated database every test database is cloned from.
const TemplateDB = "auditd_template"

const (
	// dirPrefix names the per-binary temp dirs, so a later run can find
	// and reap the ones a crashed or timed-out run left behind.
	dirPrefix = "auditd-pgtest-"
	ownerFile = "owner.pid"
)

var (
	// dir holds the cluster's data; Main creates it, the first NewDB fills it.
	dir    string
	logger *slog.Logger

	startMu  sync.Mutex
	cluster  *pgembed.Cluster // set once the cluster runs and the template is built
	startErr error            // the first start's failure, reported to every later NewDB

	// createMu serialises CREATE DATABASE ... TEMPLATE: PostgreSQL refuses
	// to clone a template while another session (including another clone)
	// is connected to it.
	createMu sync.Mutex
	dbSeq    atomic.Int64
)

// DB is one test's private database.
type DB struct {
	Name       string
	ConnString string
	Pool       *pgxpool.Pool
}

// Cluster returns the running cluster, or nil before the first NewDB.
func Cluster() *pgembed.Cluster {
	startMu.Lock()
	defer startMu.Unlock()
	return cluster
}

// Main prepares the cluster's directory, runs the tests, stops the cluster if
// a test started one, removes the directory and exits with the tests' exit
// code. Call it from TestMain.
func Main(m *testing.M) {
	if fuzzWorker() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

// fuzzWorker reports whether this process is a worker that `go test -fuzz`
// started: it only ever runs the fuzz target, which never opens a database,
// so starting a cluster per worker would cost seconds of fuzzing time.
func fuzzWorker() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

func run(m *testing.M) int {
	logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reapStale(logger)

	var err error
	dir, err = os.MkdirTemp("", dirPrefix)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: unable to create temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The owner file goes in before any cluster exists, so the reaper of a
	// later run can always tell whose directory this is.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: unable to write %s: %v\n", ownerFile, err)
		return 1
	}
	defer stopCluster()
	return m.Run()
}

// startCluster starts the cluster and builds the template on its first call;
// later calls return the same cluster, or the same error.
func startCluster() (*pgembed.Cluster, error) {
	startMu.Lock()
	defer startMu.Unlock()
	if cluster != nil || startErr != nil {
		return cluster, startErr
	}
	if dir == "" {
		startErr = errors.New("no cluster directory; call pgtest.Main(m) from TestMain")
		return nil, startErr
	}
	c := pgembed.New(pgembed.Config{DataDir: dir, Fast: true, Logger: logger})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		startErr = fmt.Errorf("unable to start PostgreSQL: %w", err)
		return nil, startErr
	}
	if err := buildTemplate(ctx, c); err != nil {
		_ = c.Stop()
		startErr = err
		return nil, startErr
	}
	cluster = c
	return cluster, nil
}

// stopCluster stops the cluster if one was started.
func stopCluster() {
	startMu.Lock()
	defer startMu.Unlock()
	if cluster == nil {
		return
	}
	if err := cluster.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	cluster = nil
}

// buildTemplate creates and migrates the template, then closes every
// connection to it and forbids new ones, because a connected template
// cannot be cloned.
func buildTemplate(ctx context.Context, c *pgembed.Cluster) error {
	admin, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("unable to connect to the cluster: %w", err)
	}
	defer admin.Close(context.Background())
	ident := pgx.Identifier{TemplateDB}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("unable to create template database: %w", err)
	}

	pool, err := pgxpool.New(ctx, c.ConnString(TemplateDB))
	if err != nil {
		return fmt.Errorf("unable to connect to template database: %w", err)
	}
	_, err = schema.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("unable to migrate template database: %w", err)
	}

	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("unable to mark template database: %w", err)
	}
	// pool.Close only closes the client side; make sure no backend lingers.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", TemplateDB); err != nil {
		return fmt.Errorf("unable to disconnect from template database: %w", err)
	}
	return nil
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// NewDB creates a database cloned from the migrated template and returns a
// pool on it, closed when the test ends. The first call starts the cluster.
// The database is not dropped:
// replication slots may still reference it, and the whole cluster is
// removed when the test binary ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	// Test name in the database name helps when reading server logs.
	suffix := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	name := fmt.Sprintf("t%d_%s", dbSeq.Add(1), suffix)
	if len(name) > 63 {
		name = name[:63]
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDB(ctx, c, name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	db := &DB{Name: name, ConnString: c.ConnString(name)}
	pool, err := pgxpool.New(ctx, db.ConnString)
	if err != nil {
		t.Fatalf("pgtest: unable to open pool on %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	db.Pool = pool
	return db
}

func createDB(ctx context.Context, c *pgembed.Cluster, name string) error {
	createMu.Lock()
	defer createMu.Unlock()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("unable to connect to the cluster: %w", err)
	}
	defer conn.Close(context.Background())
	// FILE_COPY copies the template's files instead of WAL-logging every
	// block; with fsync off its checkpoints are cheap, so it is faster.
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{TemplateDB}.Sanitize())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("unable to create database %s: %w", name, err)
	}
	return nil
}

// reapStale stops and removes clusters left by test binaries that died
// without cleaning up (a panic, a -timeout, a kill): pg_ctl detaches the
// postmaster, so it would otherwise run forever.
func reapStale(logger *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// Either not ours or a run that has not written its owner
			// file yet; leave it.
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner <= 0 || processAlive(owner) {
			continue
		}
		if pid := postmasterPID(filepath.Join(dir, "pgdata")); pid > 0 {
			// SIGQUIT is PostgreSQL's immediate shutdown: the data is
			// being thrown away, so nothing needs to be flushed.
			if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil && !errors.Is(err, syscall.ESRCH) {
				logger.Warn("pgtest: unable to stop stale postmaster", "pid", pid, "err", err)
				continue
			}
		}
		logger.Warn("pgtest: removing cluster left by a dead test binary", "dir", dir, "owner_pid", owner)
		if err := os.RemoveAll(dir); err != nil {
			logger.Warn("pgtest: unable to remove stale cluster", "dir", dir, "err", err)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// postmasterPID returns the live postmaster recorded in pgData, or 0. It
// checks the process name so a recycled PID is never signalled.
func postmasterPID(pgData string) int {
	b, err := os.ReadFile(filepath.Join(pgData, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !processAlive(pid) {
		return 0
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return 0
	}
	if name := strings.TrimSpace(string(comm)); name != "postgres" && name != "postmaster" {
		return 0
	}
	return pid
}
