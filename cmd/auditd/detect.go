package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/auditd/auditd/internal/eventstore"
)

// runDetect inspects --database-url's catalog and prints a proposed
// configuration: JSON on stdout (ready for --config), one note per guess on
// stderr. It reads the catalog only.
func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	if err := parse(newFlagSet("detect", cfg, stderr), args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("auditd detect needs --database-url: the database whose event table to read")
	}
	_, _, db, err := openCommand(ctx, "detect", append(args, "--log-level", "warn"), stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := eventstore.Detect(ctx, db.Pool)
	if err != nil {
		return err
	}
	out, err := p.ConfigJSON()
	if err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	_, err = stdout.Write(out)
	return err
}
