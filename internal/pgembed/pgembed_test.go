package pgembed

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, ctx context.Context, c *Cluster, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, c.ConnString(db))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	c := New(Config{DataDir: dir, Fast: true})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })

	if c.BinDir() == "" || c.SocketDir() == "" || c.Port() == 0 {
		t.Fatalf("accessors empty: bin=%q sock=%q port=%d", c.BinDir(), c.SocketDir(), c.Port())
	}
	if _, err := os.Stat(filepath.Join(c.BinDir(), "pg_recvlogical")); err != nil {
		t.Errorf("pg_recvlogical not next to the server binaries: %v", err)
	}
	fi, err := os.Stat(c.SocketDir())
	if err != nil {
		t.Fatalf("stat socket dir: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("socket dir mode = %o, want 700", perm)
	}
	if os.Geteuid() == 0 {
		if owner := fileOwner(t, c.SocketDir()); owner != "postgres" {
			t.Errorf("socket dir owned by %q, want postgres", owner)
		}
	}

	conn := connect(t, ctx, c, "postgres")
	for setting, want := range map[string]string{
		"wal_level":          "logical",
		"listen_addresses":   "",
		"max_connections":    "200",
		"fsync":              "off",
		"synchronous_commit": "off",
	} {
		var got string
		if err := conn.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil {
			t.Fatalf("SHOW %s: %v", setting, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != "postgres" {
		t.Errorf("current_user = %q (%v), want postgres", user, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE survivor (id int PRIMARY KEY); INSERT INTO survivor VALUES (42)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	var slot string
	if err := conn.QueryRow(ctx, "SELECT slot_name FROM pg_create_logical_replication_slot('t', 'pgoutput')").Scan(&slot); err != nil {
		t.Fatalf("create logical slot: %v", err)
	}
	if slot != "t" {
		t.Errorf("slot name = %q, want t", slot)
	}
	conn.Close(ctx)

	// A replication connection must be accepted (pg_hba "local replication").
	repl, err := pgx.Connect(ctx, c.ConnString("postgres")+"&replication=database")
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	repl.Close(ctx)

	port := c.Port()
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, c.ConnString("postgres")); err == nil {
		t.Fatal("connected to a stopped cluster")
	}

	// A new Cluster on the same data dir reuses the cluster and its port.
	c2 := New(Config{DataDir: dir, Fast: true})
	if err := c2.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { _ = c2.Stop() })
	if c2.Port() != port {
		t.Errorf("port after restart = %d, want %d", c2.Port(), port)
	}
	conn = connect(t, ctx, c2, "postgres")
	var id int
	if err := conn.QueryRow(ctx, "SELECT id FROM survivor").Scan(&id); err != nil || id != 42 {
		t.Fatalf("data after restart: id=%d err=%v", id, err)
	}
	var slots int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 't'").Scan(&slots); err != nil || slots != 1 {
		t.Errorf("slot after restart: count=%d err=%v", slots, err)
	}
	conn.Close(ctx)
	if err := c2.Stop(); err != nil {
		t.Fatalf("stop after restart: %v", err)
	}
}

// TestLeftoverPostmaster simulates a crashed owner: the server still runs
// when a new Cluster starts on the same data dir.
func TestLeftoverPostmaster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	crashed := New(Config{DataDir: dir, Fast: true})
	if err := crashed.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = crashed.Stop() })

	c := New(Config{DataDir: dir, Fast: true})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start over leftover server: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	conn := connect(t, ctx, c, "postgres")
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query: %d %v", one, err)
	}
}

// TestLongDataDir checks the socket moves to a short temporary directory
// when the data dir path would overflow sun_path.
func TestLongDataDir(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 6))
	c := New(Config{DataDir: dir, Fast: true})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if strings.HasPrefix(c.SocketDir(), dir) {
		t.Errorf("socket dir %q is inside the long data dir", c.SocketDir())
	}
	sock := c.SocketDir()
	conn := connect(t, ctx, c, "postgres")
	conn.Close(ctx)
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary socket dir %q not removed: %v", sock, err)
	}
}

func fileOwner(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("no owner information for %s", path)
	}
	u, err := user.LookupId(strconv.Itoa(int(st.Uid)))
	if err != nil {
		t.Fatalf("lookup uid %d: %v", st.Uid, err)
	}
	return u.Username
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	dir, err := FindBinDir()
	if err != nil {
		t.Fatalf("FindBinDir: %v", err)
	}
	if !hasServerBinaries(dir) {
		t.Fatalf("%s lacks server binaries", dir)
	}
	if v := majorVersion(dir); v < minMajorVersion {
		t.Fatalf("version %d < %d", v, minMajorVersion)
	}
}

func TestMissingBinaries(t *testing.T) {
	// Not parallel: it changes PATH for the process.
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	_, err := findBinDir(filepath.Join(empty, "*", "bin"))
	if !errors.Is(err, ErrBinariesNotFound) {
		t.Fatalf("err = %v, want ErrBinariesNotFound", err)
	}
	if !strings.Contains(err.Error(), "apt-get install -y postgresql") {
		t.Errorf("error lacks install hint: %v", err)
	}
}

// TestStartFailureReportsLog breaks the configuration and expects the
// server's complaint in Start's error rather than a bare exit status.
func TestStartFailureReportsLog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	c := New(Config{DataDir: dir, Fast: true})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	conf := filepath.Join(dir, "pgdata", "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nno_such_setting_xyz = 1\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	err = New(Config{DataDir: dir, Fast: true}).Start(ctx)
	if err == nil {
		t.Fatal("start with a broken configuration succeeded")
	}
	if !strings.Contains(err.Error(), "no_such_setting_xyz") {
		t.Fatalf("error does not show the server log: %v", err)
	}
	t.Logf("reported error: %v", err)
}
