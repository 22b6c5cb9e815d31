package livebench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/pgembed"
	"github.com/auditd/auditd/internal/schema"
)

// benchDB is the database the embedded cluster gets for the benchmark.
const benchDB = "auditd_bench"

// database is the migrated database under measurement, and the throwaway
// cluster behind it when the benchmark started one.
type database struct {
	pool    *pgxpool.Pool
	url     string
	binDir  string // where pg_recvlogical is
	cluster *pgembed.Cluster
	tempDir string // removed on Close; empty when --data-dir was given
}

// openDatabase starts a throwaway cluster unless cfg.DatabaseURL is given,
// migrates, and creates the publication if missing.
func openDatabase(ctx context.Context, cfg Config, logger *slog.Logger) (*database, error) {
	db := &database{url: cfg.DatabaseURL}
	if err := db.open(ctx, cfg, logger); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *database) open(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if db.url == "" {
		dir := cfg.DataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "auditd-bench-live-")
			if err != nil {
				return fmt.Errorf("bench live: %w", err)
			}
			dir, db.tempDir = tmp, tmp
		}
		// Fast (fsync off) unless --fsync: the write rate should be
		// auditd's, not the disk's.
		db.cluster = pgembed.New(pgembed.Config{DataDir: dir, Logger: logger, Fast: !cfg.Fsync})
		if err := db.cluster.Start(ctx); err != nil {
			return err
		}
		if err := db.cluster.CreateDatabase(ctx, benchDB); err != nil {
			return err
		}
		db.url = db.cluster.ConnString(benchDB)
		db.binDir = db.cluster.BinDir()
	} else {
		dir, err := pgembed.FindBinDir()
		if err != nil {
			return err
		}
		db.binDir = dir
	}
	var err error
	if db.pool, err = poolFor(ctx, db.url, cfg.Writers); err != nil {
		return err
	}
	if _, err := schema.Migrate(ctx, db.pool); err != nil {
		return err
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("bench live: %w", err)
	}
	if !exists {
		if _, err := db.pool.Exec(ctx, `CREATE PUBLICATION `+pgx.Identifier{cfg.Publication}.Sanitize()+` FOR TABLE public.events, public.projection_checkpoints`); err != nil {
			return fmt.Errorf("bench live: unable to create publication: %w", err)
		}
	}
	return nil
}

// Close closes the pool, stops the embedded cluster and removes its
// temporary directory, whichever of them exist.
func (db *database) Close() {
	if db.pool != nil {
		db.pool.Close()
	}
	if db.cluster != nil {
		_ = db.cluster.Stop()
	}
	if db.tempDir != "" {
		_ = os.RemoveAll(db.tempDir)
	}
}

// walLSN is the server's current WAL write position.
func (db *database) walLSN(ctx context.Context) (pglogrepl.LSN, error) {
	var lsn pglogrepl.LSN
	err := db.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	return lsn, err
}

// createSlot creates a logical replication slot for pgoutput.
func (db *database) createSlot(ctx context.Context, slot string) error {
	if _, err := db.pool.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot); err != nil {
		return fmt.Errorf("bench live: unable to create slot: %w", err)
	}
	return nil
}

// dropSlot drops slot if it exists. It runs on its own context because it
// cleans up after a run that may have been cancelled.
func (db *database) dropSlot(slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = db.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1) WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, slot)
}
