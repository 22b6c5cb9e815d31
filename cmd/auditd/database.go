package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/pgembed"
)

// embeddedDB is the database auditd creates in its private cluster.
const embeddedDB = "auditd"

// database is an open pool, and the embedded cluster behind it if auditd
// started one.
type database struct {
	// Pool is the event table's database (--database-url).
	Pool *pgxpool.Pool
	URL  string
	// State is where auditd's own schema lives: Pool, or the pool on
	// --state-database-url, so that the application's database needs to
	// give auditd only SELECT and REPLICATION.
	State   *pgxpool.Pool
	cluster *pgembed.Cluster
	logger  *slog.Logger
}

// openDatabase connects to --database-url, or starts the private cluster in
// --data-dir when none is given, and checks wal_level.
func openDatabase(ctx context.Context, cfg *config, logger *slog.Logger) (*database, error) {
	db := &database{URL: cfg.DatabaseURL, logger: logger}
	if db.URL == "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("invalid --data-dir: %w", err)
		}
		logger.Info("starting embedded PostgreSQL", "data_dir", dir)
		db.cluster = pgembed.New(pgembed.Config{DataDir: dir, Logger: logger})
		if err := db.cluster.Start(ctx); err != nil {
			return nil, err
		}
		if err := db.cluster.CreateDatabase(ctx, embeddedDB); err != nil {
			db.Close()
			return nil, err
		}
		db.URL = db.cluster.ConnString(embeddedDB)
	}
	pool, err := openPool(ctx, "--database-url", db.URL)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.Pool, db.State = pool, pool
	if cfg.StateDatabaseURL != "" {
		if db.State, err = openPool(ctx, "--state-database-url", cfg.StateDatabaseURL); err != nil {
			db.State = nil
			db.Close()
			return nil, err
		}
	}
	var walLevel string
	if err := pool.QueryRow(ctx, `SHOW wal_level`).Scan(&walLevel); err != nil {
		db.Close()
		return nil, fmt.Errorf("unable to connect to PostgreSQL: %w", err)
	}
	if walLevel != "logical" {
		logger.Warn("wal_level is not logical: live updates are unavailable", "wal_level", walLevel)
	}
	return db, nil
}

// openPool opens a pool on url, the value of flag.
func openPool(ctx context.Context, flag, url string) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may echo the URL, password included: do not wrap it.
		return nil, fmt.Errorf("invalid %s: it is not a valid PostgreSQL URL or DSN", flag)
	}
	pcfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("unable to connect to PostgreSQL (%s): %w", flag, err)
	}
	return pool, nil
}

// separateState reports whether auditd's own schema is in another
// database than the event table.
func (d *database) separateState() bool { return d.State != nil && d.State != d.Pool }

// Close closes the pools and stops the embedded cluster, if any.
func (d *database) Close() {
	if d.separateState() {
		d.State.Close()
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
	if d.cluster != nil {
		if err := d.cluster.Stop(); err != nil {
			d.logger.Warn("unable to stop embedded PostgreSQL", "error", err)
		}
	}
}

// takesArguments are the commands with arguments besides flags.
var takesArguments = map[string]bool{"users add": true, "users disable": true, "users passwd": true, "tokens revoke": true}

// openCommand is every database command's start: flags and environment,
// the logger, and the database (the embedded cluster when no URL is given).
// The caller closes the database.
func openCommand(ctx context.Context, cmd string, args []string, stderr io.Writer) (*config, *slog.Logger, *database, error) {
	cfg := &config{}
	fs := newFlagSet(cmd, cfg, stderr)
	var err error
	if takesArguments[cmd] {
		cfg.positional, err = parseArgs(fs, args)
	} else {
		err = parse(fs, args)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if cmd == "serve" || cmd == "demo" {
		// A refused sign-in setting stops here, before a database opens.
		if _, err := webConfig(cfg); err != nil {
			return nil, nil, nil, err
		}
	}
	if (cmd == "seed" || cmd == "demo") && cfg.Events <= 0 {
		return nil, nil, nil, fmt.Errorf("invalid --events %d: must be positive", cfg.Events)
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, logger, db, nil
}
