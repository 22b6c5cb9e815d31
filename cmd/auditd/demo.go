package main

import (
	"context"
	"fmt"
	"io"

	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/eventstore"
)

// runDemo is the one-command tour: embedded PostgreSQL (unless
// --database-url is given), migrations, the demo world if the database is
// empty, a generator appending a few events per second, and the dashboard.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, logger, db, err := openCommand(ctx, "demo", args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	// The demo writes auditd's own events table; a demo on a mapped shape
	// (demo --shape) is a later step.
	if m, err := loadMapping(cfg); err != nil {
		return err
	} else if m != nil {
		return fmt.Errorf("auditd demo writes auditd's own events table: remove the source section from %s", cfg.ConfigFile)
	}
	if _, err := loadDemoWorld(ctx, cfg, db, stdout, stderr); err != nil {
		return err
	}
	// The demo folds with its own reducers unless the user gave a file.
	if cfg.ConfigFile == "" {
		cfg.reducersData, cfg.reducersSource = demo.ReducersJSON, "the demo's built-in reducers.json"
	}

	gen := demo.NewGenerator(eventstore.New(db.Pool), logger, demo.GeneratorOptions{Rate: cfg.Rate})
	if err := gen.Start(ctx); err != nil {
		return err
	}
	defer gen.Stop()

	// Demo projection workers build read models before serve starts: the
	// drift mapping is validated against their tables at start-up.
	workers := demo.NewWorkers(db.Pool, logger, demo.WorkersOptions{Faults: cfg.DemoFaults})
	if err := workers.Start(ctx); err != nil {
		return err
	}
	defer workers.Stop()

	return serve(ctx, cfg, logger, db, stdout, func(url string) {
		fmt.Fprintf(stdout, "demo: the dispute story is at %sstreams/%s\n", url, demo.DisputeWalletID)
	})
}
