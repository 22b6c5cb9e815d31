package main

import (
	"context"
	"fmt"
	"io"

	"github.com/auditd/auditd/internal/schema"
)

// runMigrate applies pending migrations and reports how many ran.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	if err := parse(newFlagSet("migrate", &cfg, stderr), args); err != nil {
		return err
	}
	logger, err := newLogger(&cfg, stderr)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := schema.Migrate(ctx, db.Pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s); the schema is up to date\n", n)
	return nil
}
