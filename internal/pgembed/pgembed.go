// Package pgembed runs a private PostgreSQL cluster for auditd: the dev
// server keeps one in its data directory, and the tests start a throwaway one.
//
// The cluster only listens on a unix socket in a private (0700) directory, so
// the trust authentication that initdb sets up is unreachable for other local
// users. When running as root the cluster is owned by, and every PostgreSQL
// binary runs as, the `postgres` system user, because PostgreSQL refuses to
// run as root.
package pgembed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrBinariesNotFound is returned when no PostgreSQL server binaries
// (initdb, pg_ctl, postgres) of version 15 or later can be found.
var ErrBinariesNotFound = errors.New("pgembed: PostgreSQL server binaries (initdb, pg_ctl, postgres >= 15) not found: " +
	"install with `apt-get install -y postgresql` (Debian) or put their directory on PATH")

const (
	// minMajorVersion is the oldest server we support; pgoutput, the
	// replication slot functions and the SQL the project uses all need it.
	minMajorVersion = 15

	// maxSocketPath is the limit we keep the socket path under: sun_path is
	// 108 bytes on Linux and only 104 on some BSDs.
	maxSocketPath = 100

	// includeFile is the configuration file we own and rewrite on every
	// start; postgresql.conf only gets a single include line for it.
	includeFile = "auditd.conf"

	portFile = "port"
	logFile  = "postgres.log"
)

// Config configures a Cluster.
type Config struct {
	// DataDir holds the cluster (DataDir/pgdata), the remembered port and
	// the server log. It is created if missing.
	DataDir string
	// Port is the port number of the unix socket. 0 reuses the port
	// remembered in DataDir, or picks a free one on the first run.
	Port int
	// Fast trades durability for speed (fsync, synchronous_commit and
	// full_page_writes off); meant for tests.
	Fast bool
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is one private PostgreSQL cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	cfg    Config
	logger *slog.Logger

	mu        sync.Mutex
	running   bool
	dataDir   string // absolute Config.DataDir
	pgData    string // dataDir/pgdata
	binDir    string
	socketDir string
	tempSock  bool // socketDir was made with MkdirTemp and must be removed on Stop
	port      int
	owner     *syscall.Credential // nil: run binaries as the current user
}

// New returns a Cluster for cfg. Nothing happens until Start.
func New(cfg Config) *Cluster {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Cluster{cfg: cfg, logger: logger.With("component", "pgembed")}
}

// BinDir returns the directory the PostgreSQL binaries were found in.
func (c *Cluster) BinDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.binDir
}

// SocketDir returns the directory holding the server's unix socket.
func (c *Cluster) SocketDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.socketDir
}

// Port returns the port number of the server's unix socket.
func (c *Cluster) Port() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.port
}

// ConnString returns a pgx-compatible URL for dbname as user postgres over
// the unix socket. Callers may append further parameters with
// "&key=value" (for example "&replication=database").
func (c *Cluster) ConnString(dbname string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable",
		url.PathEscape(dbname), url.QueryEscape(c.socketDir), c.port)
}

// CreateDatabase creates the database name unless it exists: the dev
// server's and the benchmark's database in their private clusters.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("unable to connect to the embedded cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("unable to look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("unable to create database %s: %w", name, err)
	}
	return nil
}

// Start finds the binaries, initialises the cluster on the first run,
// writes the configuration, starts the server and waits until it accepts
// connections or ctx ends.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	if c.cfg.DataDir == "" {
		return errors.New("pgembed: Config.DataDir is empty")
	}

	binDir, err := FindBinDir()
	if err != nil {
		return err
	}
	c.binDir = binDir

	if err := c.prepareDirs(); err != nil {
		return err
	}
	if err := c.stopLeftover(ctx); err != nil {
		return err
	}
	if err := c.initdb(ctx); err != nil {
		return err
	}
	if err := c.choosePort(); err != nil {
		return err
	}
	if err := c.prepareSocketDir(); err != nil {
		return err
	}
	if err := c.writeConfig(); err != nil {
		c.removeTempSocketDir()
		return err
	}

	c.logger.Info("starting postgres", "data_dir", c.pgData, "socket_dir", c.socketDir, "port", c.port, "bin_dir", c.binDir)
	logPath := filepath.Join(c.dataDir, logFile)
	logOffset := fileSize(logPath)
	if out, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.pgData, "-l", logPath); err != nil {
		c.removeTempSocketDir()
		return fmt.Errorf("pgembed: unable to start postgres: %w: %s\n%s", err, out, c.logTail(logPath, logOffset))
	}
	// From here on a server runs; Stop must stop it even if waiting fails.
	c.running = true

	if err := c.waitReady(ctx); err != nil {
		tail := c.logTail(logPath, logOffset)
		c.stopLocked()
		return fmt.Errorf("pgembed: postgres started but does not accept connections: %w\n%s", err, tail)
	}
	c.logger.Info("postgres ready", "port", c.port)
	return nil
}

// Stop shuts the server down with pg_ctl's fast mode (open transactions are
// rolled back, clients disconnected). Calling it again, or without a
// successful Start, is a no-op.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked()
}

func (c *Cluster) stopLocked() error {
	if !c.running {
		return nil
	}
	// Stop gets no context by design (shutdown must not be cut short by an
	// already cancelled request context); pg_ctl's own -t bounds it.
	out, err := c.run(context.Background(), "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.pgData)
	if err != nil && isRunning(c.pgData) {
		return fmt.Errorf("pgembed: unable to stop postgres: %w: %s", err, out)
	}
	c.running = false
	c.removeTempSocketDir()
	c.logger.Info("postgres stopped", "data_dir", c.pgData)
	return nil
}

// prepareDirs creates DataDir and makes sure the user running postgres
// owns it and can reach it.
func (c *Cluster) prepareDirs() error {
	abs, err := filepath.Abs(c.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("pgembed: unable to resolve data dir: %w", err)
	}
	c.dataDir = abs
	c.pgData = filepath.Join(abs, "pgdata")

	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgembed: running as root needs a `postgres` system user to run the server as: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("pgembed: unable to parse postgres user ids: %w", err)
		}
		c.owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}

	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return fmt.Errorf("pgembed: unable to create data dir: %w", err)
	}
	if err := c.chown(c.dataDir); err != nil {
		return err
	}
	if c.owner != nil {
		// The server must be able to reach its data directory. Directories
		// made by root (os.MkdirTemp, t.TempDir) are 0700, so grant search
		// (not read) permission on the ancestors that lack it.
		if err := grantSearch(filepath.Dir(c.dataDir), c.logger); err != nil {
			return err
		}
	}
	return nil
}

// grantSearch adds o+x to dir and each of its ancestors that lacks it.
func grantSearch(dir string, logger *slog.Logger) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgembed: unable to inspect %s: %w", dir, err)
		}
		if mode := fi.Mode().Perm(); mode&0o001 == 0 {
			if err := os.Chmod(dir, mode|0o001); err != nil {
				return fmt.Errorf("pgembed: unable to let postgres traverse %s: %w", dir, err)
			}
			logger.Info("granted o+x so postgres can reach its data dir", "dir", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// stopLeftover deals with a postmaster.pid left by an earlier run: a server
// that still runs (the previous process crashed) is stopped cleanly so we
// start one with the current configuration; a stale file is removed.
func (c *Cluster) stopLeftover(ctx context.Context) error {
	pidPath := filepath.Join(c.pgData, "postmaster.pid")
	if _, err := os.Stat(pidPath); err != nil {
		return nil
	}
	if isRunning(c.pgData) {
		c.logger.Warn("stopping postgres left running by a previous run", "data_dir", c.pgData)
		if out, err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.pgData); err != nil {
			return fmt.Errorf("pgembed: unable to stop leftover postgres: %w: %s", err, out)
		}
		return nil
	}
	c.logger.Warn("removing stale postmaster.pid", "path", pidPath)
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pgembed: unable to remove stale postmaster.pid: %w", err)
	}
	return nil
}

// isRunning reports whether the postmaster recorded in pgData's
// postmaster.pid is alive. It checks the process is a postgres binary
// rather than trusting the PID alone, which the kernel may have reused.
func isRunning(pgData string) bool {
	pid, _, _ := readPostmasterPID(pgData)
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		// No procfs: trust the signal check.
		return true
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}

// readPostmasterPID returns the PID, port and socket directory recorded in
// postmaster.pid (lines 1, 4 and 5).
func readPostmasterPID(pgData string) (pid, port int, socketDir string) {
	b, err := os.ReadFile(filepath.Join(pgData, "postmaster.pid"))
	if err != nil {
		return 0, 0, ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 0 {
		pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 4 {
		socketDir = strings.TrimSpace(lines[4])
	}
	return pid, port, socketDir
}

// initdb creates the cluster unless DataDir already holds one.
func (c *Cluster) initdb(ctx context.Context) error {
	if b, err := os.ReadFile(filepath.Join(c.pgData, "PG_VERSION")); err == nil {
		c.logger.Debug("reusing cluster", "data_dir", c.pgData, "version", strings.TrimSpace(string(b)))
		return c.ensureReplicationHBA()
	}
	if entries, err := os.ReadDir(c.pgData); err == nil && len(entries) > 0 {
		return fmt.Errorf("pgembed: %s is not empty but holds no cluster (no PG_VERSION); remove it to start afresh", c.pgData)
	}
	if err := os.MkdirAll(c.pgData, 0o700); err != nil {
		return fmt.Errorf("pgembed: unable to create %s: %w", c.pgData, err)
	}
	if err := c.chown(c.pgData); err != nil {
		return err
	}

	c.logger.Info("initialising cluster", "data_dir", c.pgData)
	args := []string{"-D", c.pgData, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"}
	if c.cfg.Fast {
		// A crash during a test run loses a throwaway cluster: skip fsync.
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("pgembed: initdb failed: %w\n%s", err, out)
	}
	conf := filepath.Join(c.pgData, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgembed: unable to open postgresql.conf: %w", err)
	}
	_, werr := fmt.Fprintf(f, "\n# Settings managed by auditd, rewritten on every start.\ninclude_if_exists = '%s'\n", includeFile)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("pgembed: unable to write postgresql.conf: %w", err)
	}
	return c.ensureReplicationHBA()
}

var hbaReplication = regexp.MustCompile(`(?m)^\s*local\s+replication\s+all\s+trust\b`)

// ensureReplicationHBA makes sure logical replication clients (pglogrepl,
// pg_recvlogical) may connect over the socket; initdb --auth=trust adds the
// line, but an older or hand-edited data dir may lack it.
func (c *Cluster) ensureReplicationHBA() error {
	path := filepath.Join(c.pgData, "pg_hba.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pgembed: unable to read pg_hba.conf: %w", err)
	}
	if hbaReplication.Match(b) {
		return nil
	}
	// pg_hba.conf is first-match: the line must come before any reject.
	b = append([]byte("local replication all trust\n"), b...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("pgembed: unable to write pg_hba.conf: %w", err)
	}
	return c.chown(path)
}

// choosePort settles the port: the configured one, else the one remembered
// from an earlier run, else a free one, and remembers it.
func (c *Cluster) choosePort() error {
	path := filepath.Join(c.dataDir, portFile)
	port := c.cfg.Port
	if port == 0 {
		if b, err := os.ReadFile(path); err == nil {
			port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if port <= 0 || port > 65535 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	c.port = port
	if err := os.WriteFile(path, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return fmt.Errorf("pgembed: unable to remember port: %w", err)
	}
	return c.chown(path)
}

// freePort asks the kernel for an unused TCP port. The server only listens
// on a private unix socket, so the number merely names the socket file, but
// a port nothing else uses keeps psql -p and log reading unambiguous.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: unable to pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// prepareSocketDir uses DataDir/run when the socket path fits in sun_path,
// and a short temporary directory otherwise. Either way it is 0700 and
// owned by the server's user, which keeps trust auth private.
func (c *Cluster) prepareSocketDir() error {
	dir := filepath.Join(c.dataDir, "run")
	socket := filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d.lock", c.port))
	c.tempSock = false
	if len(socket) >= maxSocketPath {
		tmp, err := os.MkdirTemp("", "auditd-sock-")
		if err != nil {
			return fmt.Errorf("pgembed: unable to create socket dir: %w", err)
		}
		dir = tmp
		c.tempSock = true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pgembed: unable to create socket dir: %w", err)
	}
	c.socketDir = dir
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("pgembed: unable to protect socket dir: %w", err)
	}
	if err := c.chown(dir); err != nil {
		return err
	}
	if c.owner != nil {
		if err := grantSearch(filepath.Dir(dir), c.logger); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) removeTempSocketDir() {
	if c.tempSock && c.socketDir != "" {
		if err := os.RemoveAll(c.socketDir); err != nil {
			c.logger.Warn("unable to remove socket dir", "dir", c.socketDir, "err", err)
		}
		c.tempSock = false
	}
}

// writeConfig rewrites the included configuration file; the socket dir and
// the Fast flag can differ between starts.
func (c *Cluster) writeConfig() error {
	var b strings.Builder
	b.WriteString("# Written by auditd on every start; edits are overwritten.\n")
	set := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	set("listen_addresses", "''")
	set("unix_socket_directories", quoteConf(c.socketDir))
	set("unix_socket_permissions", "0700")
	set("port", strconv.Itoa(c.port))
	set("max_connections", "200")
	set("wal_level", "logical")
	set("max_replication_slots", "32")
	set("max_wal_senders", "32")
	if c.cfg.Fast {
		set("fsync", "off")
		set("synchronous_commit", "off")
		set("full_page_writes", "off")
		// Several test binaries run clusters side by side on a small box.
		set("shared_buffers", "32MB")
	}
	path := filepath.Join(c.pgData, includeFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgembed: unable to write %s: %w", includeFile, err)
	}
	return c.chown(path)
}

func quoteConf(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// waitReady connects until a query succeeds or ctx ends. pg_ctl -w already
// waited for the postmaster to report readiness; this confirms the socket is
// reachable with the connection string the rest of auditd will use.
func (c *Cluster) waitReady(ctx context.Context) error {
	connString := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable",
		url.QueryEscape(c.socketDir), c.port)
	backoff := 10 * time.Millisecond
	for {
		err := ping(ctx, connString)
		if err == nil {
			return nil
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-timer.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func ping(ctx context.Context, connString string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// run executes a PostgreSQL binary as the cluster's owner and returns its
// combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	// The server's user may be unable to enter the caller's working
	// directory (initdb then fails with "could not change directory").
	cmd.Dir = c.dataDir
	cmd.Env = serverEnv()
	if c.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.owner}
	}
	// A temp file rather than a pipe: pg_ctl start leaves a postmaster
	// behind, and a pipe it inherited would keep Wait from returning.
	out, err := os.CreateTemp("", "auditd-pgctl-*.out")
	if err != nil {
		return "", fmt.Errorf("pgembed: unable to capture %s output: %w", name, err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return "", errors.Join(runErr, err)
	}
	b, _ := io.ReadAll(io.LimitReader(out, 64<<10))
	return strings.TrimSpace(string(b)), runErr
}

// serverEnv is the caller's environment without libpq variables (PGDATA,
// PGPORT, PGHOST, ...), which would otherwise override our flags.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	if err := os.Chown(path, int(c.owner.Uid), int(c.owner.Gid)); err != nil {
		return fmt.Errorf("pgembed: unable to hand %s to the postgres user: %w", path, err)
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last lines the server logged since offset, for
// error messages.
func (c *Cluster) logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 30 {
			lines = lines[1:]
		}
	}
	return "server log (" + path + "):\n" + strings.Join(lines, "\n")
}

// FindBinDir locates the PostgreSQL server binaries: initdb/pg_ctl on
// PATH, then `pg_config --bindir`, then the highest Debian-style
// /usr/lib/postgresql/<major>/bin. Candidates older than version 15 are
// skipped.
func FindBinDir() (string, error) {
	return findBinDir("/usr/lib/postgresql/*/bin")
}

// findBinDir is FindBinDir with the Debian directory pattern as a
// parameter, so tests can hide the system's binaries.
func findBinDir(debianGlob string) (string, error) {
	var candidates []string
	for _, name := range []string{"initdb", "pg_ctl"} {
		if p, err := exec.LookPath(name); err == nil {
			// Resolve symlinks so the sibling binaries (postgres,
			// pg_recvlogical) are found next to it.
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			}
			candidates = append(candidates, filepath.Dir(p))
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	dirs, _ := filepath.Glob(debianGlob)
	sort.Slice(dirs, func(i, j int) bool { return debianMajor(dirs[i]) > debianMajor(dirs[j]) })
	candidates = append(candidates, dirs...)

	for _, dir := range candidates {
		if hasServerBinaries(dir) && majorVersion(dir) >= minMajorVersion {
			return dir, nil
		}
	}
	return "", ErrBinariesNotFound
}

func debianMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)`)

// majorVersion runs `pg_ctl --version` ("pg_ctl (PostgreSQL) 15.13").
func majorVersion(dir string) int {
	out, err := exec.Command(filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return 0
	}
	m := versionRE.FindSubmatch(bytes.TrimSpace(out))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
