package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/schema"
	"github.com/auditd/auditd/web"
)

// runServe runs the dashboard against --database-url (or the embedded
// cluster) until SIGINT/SIGTERM.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	if err := parse(newFlagSet("serve", &cfg, stderr), args); err != nil {
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
	return serve(ctx, &cfg, logger, db, stdout, nil)
}

// serve migrates, starts the background services and the HTTP server, and
// blocks until ctx ends. ready, if set, runs once the server answers.
func serve(ctx context.Context, cfg *config, logger *slog.Logger, db *database, stdout io.Writer, ready func(url string)) error {
	n, err := schema.Migrate(ctx, db.Pool)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("applied migrations", "count", n)
	}
	store := eventstore.New(db.Pool)

	deps := web.Deps{Pool: db.Pool, Store: store, Logger: logger}

	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	folder := eventstore.NewCountFolder(store, logger, 10*time.Second)
	if err := folder.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, folder.Stop)

	// wiring: timetravel (issue 3 owner edits only this block)

	// wiring: live (issue 4 owner edits only this block)

	// wiring: projections (issue 5 owner edits only this block)

	srv := web.New(web.Config{Listen: cfg.Listen}, deps)
	addr, err := srv.Start(ctx)
	if err != nil {
		return err
	}
	url := "http://" + addr.String() + "/"
	logger.Info("auditd is serving", "url", url)
	fmt.Fprintf(stdout, "auditd is running: open %s\n", url)
	if ready != nil {
		ready(url)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Stop(shutdownCtx)
}
