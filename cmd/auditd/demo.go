package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/auditd/auditd/internal/access"
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
	if cfg.Auth != "off" {
		if err := demoUsers(ctx, access.NewService(db.Pool, logger, access.Options{}), stdout); err != nil {
			return err
		}
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

// demoUsers gives each role a user named after it, with a new random
// password each run (printed here, stored only hashed), so a newcomer can
// try what each role sees.
func demoUsers(ctx context.Context, svc *access.Service, stdout io.Writer) error {
	for _, role := range access.Roles() {
		name, pw := role.String(), access.RandomPassword()
		_, err := svc.AddUser(ctx, name, role, pw)
		if errors.Is(err, access.ErrUserExists) {
			err = svc.SetPassword(ctx, name, pw)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo: sign in as %-10s password %s\n", name, pw)
	}
	return nil
}
