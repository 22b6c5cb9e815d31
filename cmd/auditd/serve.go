package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/schema"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/web"
)

// runServe runs the dashboard against --database-url (or the embedded
// cluster) until SIGINT/SIGTERM.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, logger, db, err := openCommand(ctx, "serve", args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	return serve(ctx, cfg, logger, db, stdout, nil)
}

// serve migrates, starts the background services and the HTTP server, and
// blocks until ctx ends; then it stops them, last started first. ready, if
// set, runs once the server answers.
func serve(ctx context.Context, cfg *config, logger *slog.Logger, db *database, stdout io.Writer, ready func(url string)) error {
	n, err := schema.Migrate(ctx, db.Pool)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("applied migrations", "count", n)
	}
	store := eventstore.New(db.Pool)
	if cfg.MemoryLimit > 0 {
		// A soft limit: bursts of large events make the collector run
		// sooner instead of letting the heap grow to twice its live size.
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}

	deps := web.Deps{Pool: db.Pool, Store: store, Logger: logger}

	var stops []func()
	// The header banners' sources; a refresher recomputes them in the
	// background so that page views never query for them.
	var banners []web.BannerSource
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

	// Time travel: reducers/upcasters from --reducers, snapshots. The same
	// file declares the drift mappings of the projections below.
	ttCfg, err := loadReducers(cfg, logger)
	if err != nil {
		return err
	}
	if cfg.SnapshotEvery == 0 {
		return fmt.Errorf("--snapshot-every must not be 0: use a positive interval, or -1 for no snapshots")
	}
	deps.TimeTravel = timetravel.NewService(store, ttCfg, logger, timetravel.ServiceOptions{SnapshotEvery: cfg.SnapshotEvery})
	// Snapshots of earlier reducers are never read again. A failure here
	// costs only space, so it does not stop start-up.
	if n, err := deps.TimeTravel.PruneSnapshots(ctx); err != nil {
		logger.Warn("unable to prune the snapshots of earlier reducers", "error", err)
	} else if n > 0 {
		logger.Info("pruned the snapshots of earlier reducers", "count", n)
	}

	// Live: the replication consumer and its hub.
	if !cfg.NoLive {
		hub := live.NewHub(live.HubConfig{WindowBytes: cfg.LiveWindowBytes, BufferBytes: cfg.LiveBufferBytes, LargeEvent: cfg.LiveLargeEvent})
		alerts := live.NewAlerts(db.Pool)
		consumer := live.NewConsumer(live.ConsumerConfig{
			ConnString: db.URL, Publication: cfg.Publication, Slot: cfg.Slot, Logger: logger,
		}, db.Pool, hub, alerts)
		if err := consumer.Start(ctx); err != nil {
			// The dashboard is still useful without live updates (a
			// database without wal_level=logical, or without the rights).
			logger.Warn("live updates are off", "error", err)
		} else {
			stops = append(stops, consumer.Stop)
			deps.LiveHub, deps.LiveConsumer = hub, consumer
		}
		deps.LiveAlerts = alerts
		banners = append(banners, web.AlertBanners(alerts))
	}

	// Projections: lag monitor, history sampler, drift checks.
	{
		driftCfg, err := projections.ParseDrift(ttCfg)
		if err != nil {
			return err
		}
		mon := projections.NewMonitor(db.Pool, logger, projections.Options{
			Thresholds: projections.Thresholds{
				StallAfter: cfg.StallAfter, LagEvents: cfg.LagEventsWarn,
				LagSeconds: cfg.LagSecondsWarn, RetainedWAL: cfg.RetainedWALWarn,
			},
			Declared: driftCfg.Names(),
		})
		sampler := projections.NewSampler(mon, logger, cfg.HistoryInterval, cfg.HistoryRetention)
		if err := sampler.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, sampler.Stop)
		if driftCfg != nil && len(driftCfg.Mappings) > 0 {
			drift := projections.NewDrift(db.Pool, driftCfg, logger)
			// A mapping naming a missing table or column stops start-up
			// with a message naming them.
			if err := drift.Start(ctx); err != nil {
				return fmt.Errorf("invalid drift configuration in %s: %w", ttCfg.Source(), err)
			}
			stops = append(stops, drift.Stop)
			deps.Drift = drift
		}
		deps.Projections = mon
		if deps.LiveHub != nil {
			deps.ProjectionsLiveURL = web.LagFeedURL
		}
		banners = append(banners, web.ProjectionBanners(mon))
	}
	deps.Banners = web.NewBannerRefresher(logger, 0, banners...)
	if err := deps.Banners.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, deps.Banners.Stop)

	srv := web.New(web.Config{Listen: cfg.Listen}, deps)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, srv.Stop)
	if deps.LiveHub != nil {
		// Stops run last to first: the hub closes before the server stops,
		// so the open SSE responses end and the graceful shutdown does not
		// wait for them.
		stops = append(stops, deps.LiveHub.Close)
	}
	url := "http://" + srv.Addr().String() + "/"
	logger.Info("auditd is serving", "url", url)
	fmt.Fprintf(stdout, "auditd is running: open %s\n", url)
	if ready != nil {
		ready(url)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return nil
}

// loadReducers parses the reducers file (--reducers, or the demo's built-in
// one); without one, events fold as JSON merge patches. A bad file stops
// start-up: the error names the file and the rule, and folding with half a
// config would show wrong states.
func loadReducers(cfg *config, logger *slog.Logger) (*timetravel.Config, error) {
	data, source, err := reducersFile(cfg)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return timetravel.DefaultConfig(), nil
	}
	ttCfg, err := timetravel.ParseConfig(data, source)
	if err != nil {
		return nil, err
	}
	logger.Info("time travel reducers loaded", "source", source, "fingerprint", ttCfg.Fingerprint()[:12])
	return ttCfg, nil
}
