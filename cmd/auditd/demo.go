package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/schema"
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
	// The demo writes its own tables: auditd's events table, or with
	// --shape a team's shape in schema app; a source of the user's own
	// would say to read another table.
	if m, err := loadMapping(cfg); err != nil {
		return err
	} else if m != nil {
		return fmt.Errorf("auditd demo writes its own tables: remove the source section from %s", cfg.ConfigFile)
	}
	if cfg.Shape != "" {
		return runDemoShape(ctx, cfg, logger, db, stdout, stderr)
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

// runDemoShape is the demo on a team's table shape (--shape): the demo
// world and its live generator write the shape's tables in schema app, as
// the application owning them would, and the dashboard reads them through
// the shape's source mapping like any team's table.
func runDemoShape(ctx context.Context, cfg *config, logger *slog.Logger, db *database, stdout, stderr io.Writer) error {
	if cfg.ConfigFile != "" {
		return errors.New("demo --shape folds with the demo's own reducers and mapping: drop --config")
	}
	if _, err := schema.MigrateOwn(ctx, db.Pool); err != nil {
		return err
	}
	store, source, err := eventstore.OpenDemoShape(ctx, db.Pool, cfg.Shape)
	if err != nil {
		return err
	}
	if first, err := store.ReadLog(ctx, eventstore.LogQuery{Limit: 1}); err != nil {
		return err
	} else if len(first) == 0 {
		if err := seed(ctx, store, cfg.Events, cfg.Seed, stderr, stdout); err != nil {
			return err
		}
	}
	if cfg.Auth != "off" {
		if err := demoUsers(ctx, access.NewService(db.Pool, logger, access.Options{}), stdout); err != nil {
			return err
		}
	}
	// The demo's reducers and the shape's source mapping make the one
	// configuration serve reads.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(demo.ReducersJSON, &top); err != nil {
		return fmt.Errorf("demo: the built-in reducers.json is not a JSON object: %w", err)
	}
	var src struct {
		Source json.RawMessage `json:"source"`
	}
	if err := json.Unmarshal(source, &src); err != nil {
		return err
	}
	top["source"] = src.Source
	// The demo's projection workers build their read models from auditd's
	// own table: on a shape they do not run, so there is nothing to check
	// for drift.
	delete(top, "drift")
	if cfg.reducersData, err = json.Marshal(top); err != nil {
		return err
	}
	cfg.reducersSource = "the demo's built-in reducers.json and the " + cfg.Shape + " mapping"

	gen := demo.NewGenerator(store, logger, demo.GeneratorOptions{Rate: cfg.Rate})
	if err := gen.Start(ctx); err != nil {
		return err
	}
	defer gen.Stop()
	logger.Info("demo on a team's table shape", "shape", cfg.Shape, "table", "app.events")
	return serve(ctx, cfg, logger, db, stdout, func(url string) {
		fmt.Fprintf(stdout, "demo (%s): the dispute story is at %sstreams/%s\n", cfg.Shape, url, eventstore.DemoStreamID(demo.DisputeWalletID))
	})
}
