package main

import (
	"context"
	"fmt"
	"io"

	"github.com/auditd/auditd/internal/schema"
)

// runMigrate applies pending migrations and reports how many ran.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, _, db, err := openCommand(ctx, "migrate", args, stderr)
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
