package livebench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/schema"
)

// scratchLedger is a witness ledger in a database of its own, created for
// one run and dropped after it: each run starts from an empty ledger (one
// that had the entries already would drop them as re-sent), and a database
// given by --database-url keeps its own ledger untouched.
type scratchLedger struct {
	name   string
	pool   *pgxpool.Pool
	writer *ledger.Writer
	db     *database
}

// newScratchLedger creates and migrates the database, and starts a writer
// on it.
func (db *database) newScratchLedger(ctx context.Context, tag string) (*scratchLedger, error) {
	s := &scratchLedger{name: fmt.Sprintf("bench_ledger_%d_%s", os.Getpid(), tag), db: db}
	if _, err := db.pool.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{s.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("bench live: unable to create the ledger's database: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(db.url)
	if err != nil {
		s.drop()
		return nil, fmt.Errorf("bench live: %w", err)
	}
	pcfg.ConnConfig.Database = s.name
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		s.drop()
		return nil, fmt.Errorf("bench live: unable to connect to the ledger's database: %w", err)
	}
	if _, err := schema.Migrate(ctx, s.pool); err != nil {
		s.Close()
		return nil, err
	}
	s.writer = ledger.NewWriter(ledger.WriterConfig{}, ledger.NewStore(s.pool))
	if err := s.writer.Start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the writer and drops the database.
func (s *scratchLedger) Close() {
	if s.writer != nil {
		s.writer.Stop()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	s.drop()
}

func (s *scratchLedger) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = s.db.pool.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{s.name}.Sanitize()+` WITH (FORCE)`)
}
