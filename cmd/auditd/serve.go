package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/schema"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/internal/warmup"
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
	// openCommand checked these before opening the database.
	webCfg, err := webConfig(cfg)
	if err != nil {
		return err
	}
	// A source mapping means the event table is an application's: auditd
	// reads it and creates nothing outside its own schema.
	mapping, err := loadMapping(cfg)
	if err != nil {
		return err
	}
	// The key signing checkpoints and evidence: a bad --signing-key stops
	// start-up before anything runs.
	signingKey, err := loadSigningKey(cfg, logger)
	if err != nil {
		return err
	}
	migrate := schema.Migrate
	if mapping != nil {
		migrate = schema.MigrateOwn
	} else if db.separateState() {
		return errors.New("--state-database-url needs a source mapping in --config: auditd's own events table lives with its own schema")
	} else if err := eventstore.CheckUnmapped(ctx, db.Pool); err != nil {
		// Without a source, auditd creates its own events table: never
		// beside (or over) an application's.
		return err
	}
	// auditd's own schema goes to the state database (the same one unless
	// --state-database-url).
	n, err := migrate(ctx, db.State)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("applied migrations", "count", n)
	}
	store, liveSource, err := openStore(ctx, cfg, db, mapping, logger)
	if err != nil {
		return err
	}
	if cfg.MemoryLimit > 0 {
		// A soft limit: bursts of large events make the collector run
		// sooner instead of letting the heap grow to twice its live size.
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}

	deps := web.Deps{Pool: db.State, Store: store, Logger: logger, MappedSource: mapping != nil}
	if mapping != nil {
		deps.SourceSetup = &web.SourceSetup{Mapping: mapping, Live: liveSource, Publication: cfg.Publication, Slot: cfg.Slot}
	}
	if !webCfg.AuthOff {
		deps.Access = access.NewService(db.State, logger, access.Options{})
	}
	if cfg.OIDC.Issuer != "" {
		// A provider that cannot be reached stops start-up: signing in
		// would fail for everyone anyway, and the error says why.
		if deps.OIDC, err = access.NewOIDC(ctx, cfg.OIDC); err != nil {
			return err
		}
		logger.Info("single sign-on", "issuer", cfg.OIDC.Issuer, "redirect_url", cfg.OIDC.RedirectURL)
	}

	var stops []func()
	// The header banners' sources; a refresher recomputes them in the
	// background so that page views never query for them.
	// An outage comes first: while the database is down it is the news.
	banners := []web.BannerSource{web.DatabaseBanners(db.Pool)}
	if db.separateState() {
		banners = append(banners, web.DatabaseBanners(db.State))
	}
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	// The overview's counts: auditd counts what it reads, on its own
	// table or a mapped one alike (nothing is attached to the table).
	folder := eventstore.NewCountFolder(store, logger, 10*time.Second)
	if err := folder.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, folder.Stop)

	// The stream catalogue (search anywhere in an id), on any source. Its
	// tables are joined with the events in one statement, so with auditd's
	// schema in another database it is off (prefix search still works).
	if db.separateState() {
		logger.Warn("searching anywhere in a stream id is off with --state-database-url: the stream catalogue must be beside the events")
	} else {
		keeper := eventstore.NewCatalogueKeeper(store, logger, 2*time.Second)
		if err := keeper.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, keeper.Stop)
	}

	// Time travel: reducers/upcasters from --config, snapshots. The same
	// file declares the drift mappings of the projections below.
	ttCfg, err := loadReducers(cfg, logger)
	if err != nil {
		return err
	}
	// The same file says which fields hold personal data: every page masks
	// them. A bad pointer stops start-up, naming its key.
	if deps.PII, err = pii.Parse(ttCfg); err != nil {
		return err
	}
	if cfg.SnapshotEvery == 0 {
		return fmt.Errorf("--snapshot-every must not be 0: use a positive interval, or -1 for no snapshots")
	}
	deps.TimeTravel = timetravel.NewService(store, ttCfg, logger, timetravel.ServiceOptions{SnapshotEvery: cfg.SnapshotEvery, SnapshotPool: db.State})
	// Snapshots of earlier reducers are never read again. A failure here
	// costs only space, so it does not stop start-up.
	if n, err := deps.TimeTravel.PruneSnapshots(ctx); err != nil {
		logger.Warn("unable to prune the snapshots of earlier reducers", "error", err)
	} else if n > 0 {
		logger.Info("pruned the snapshots of earlier reducers", "count", n)
	}

	// Live: the replication consumer and its hub, on auditd's own events
	// table or the mapped one (liveSource).
	if !cfg.NoLive {
		hub := live.NewHub(live.HubConfig{WindowBytes: cfg.LiveWindowBytes, BufferBytes: cfg.LiveBufferBytes, LargeEvent: cfg.LiveLargeEvent})
		alerts := live.NewAlerts(db.State)
		// The witness ledger: the consumer confirms the slot only up to
		// what it holds.
		witness := ledger.NewWriter(ledger.WriterConfig{Logger: logger}, ledger.NewStore(db.State))
		if err := witness.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, witness.Stop)
		banners = append(banners, web.LedgerBanners(witness))
		// First start on an existing store: the events before the slot are
		// back-filled from the table, in the snapshot the slot exports.
		backfill := ledger.NewBackfill(store, ledger.NewStore(db.State), witness)
		consumer := live.NewConsumer(live.ConsumerConfig{
			ConnString: db.URL, Publication: cfg.Publication, Slot: cfg.Slot, Ledger: witness, Backfill: backfill, Logger: logger,
			Source: liveSource,
		}, db.Pool, hub, alerts)
		var pubErr *live.PublicationError
		if err := consumer.Start(ctx); errors.As(err, &pubErr) {
			// Everything but live works meanwhile; the setup page shows
			// the same statements.
			logger.Warn("live updates are off until a DBA creates the publication", "reason", pubErr.Reason,
				"statements", strings.Join(pubErr.Statements, " "))
		} else if err != nil {
			// The dashboard is still useful without live updates (a
			// database without wal_level=logical, or without the rights).
			logger.Warn("live updates are off", "error", err)
		} else {
			stops = append(stops, consumer.Stop)
			deps.LiveHub, deps.LiveConsumer = hub, consumer
			// Feeds get a status message when the consumer loses or
			// regains the server.
			watch := live.NewStatusWatch(consumer, hub, 0)
			if err := watch.Start(ctx); err != nil {
				return err
			}
			stops = append(stops, watch.Stop)
			// Streams are folded up to their newest snapshot interval as
			// their events commit, so no reader pays for a cold fold.
			if deps.TimeTravel.SnapshotEvery() > 0 {
				warmer := warmup.New(hub, deps.TimeTravel, logger, warmup.Options{})
				if err := warmer.Start(ctx); err != nil {
					return err
				}
				stops = append(stops, warmer.Stop)
			}
			deps.LiveResume = live.NewResume(hub, ledger.NewStore(db.State), witness, store)
			deps.Ledger, deps.BackdatedAfter = ledger.NewStore(db.State), cfg.BackdatedAfter
		}
		deps.LiveAlerts = alerts
		banners = append(banners, web.AlertBanners(alerts))
		// The whole store verified against the ledger at an interval and
		// from /verify, after pruning past the retention; a break is a
		// tamper alert.
		every := cfg.LedgerVerifyEvery
		if every == 0 {
			every = -1
		}
		audit := ledger.NewAuditor(ledger.NewStore(db.State), store, ledger.AuditConfig{Every: every, Retention: cfg.LedgerRetention, Logger: logger, OnBroken: alerts.RecordVerification})
		if err := audit.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, audit.Stop)
		deps.LedgerAudit = audit
	}

	// Signed checkpoints of the ledger's head, at the interval while the
	// ledger is written; /about/keys shows the key and signs on demand.
	deps.Checkpoints = ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: signingKey, Interval: cfg.CheckpointInterval, Logger: logger}, ledger.NewStore(db.State))
	if deps.Ledger != nil {
		if err := deps.Checkpoints.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, deps.Checkpoints.Stop)
	}

	// Projections: lag monitor, history sampler, drift checks, reading the
	// checkpoints and events through the store (a mapped source's
	// checkpoints section, when it has one).
	{
		driftCfg, err := projections.ParseDrift(ttCfg)
		if err != nil {
			return err
		}
		mon := projections.NewMonitor(db.State, logger, projections.Options{
			Thresholds: projections.Thresholds{
				StallAfter: cfg.StallAfter, LagEvents: cfg.LagEventsWarn,
				LagSeconds: cfg.LagSecondsWarn, RetainedWAL: cfg.RetainedWALWarn,
			},
			Declared: driftCfg.Names(),
			Store:    store,
		})
		sampler := projections.NewSampler(mon, logger, cfg.HistoryInterval, cfg.HistoryRetention)
		if err := sampler.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, sampler.Stop)
		if driftCfg != nil && len(driftCfg.Mappings) > 0 {
			drift := projections.NewDriftOn(store, driftCfg, logger)
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

	srv := web.New(webCfg, deps)
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
	if webCfg.AuthOff {
		logger.Warn("sign-in is off (--auth=off): anyone who reaches the listen address sees everything")
	} else if err := printSetupLink(ctx, deps.Access, webCfg, url, logger, stdout); err != nil {
		return err
	}
	if ready != nil {
		ready(url)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return nil
}

// openStore is the event store serve reads: auditd's own events table, or
// the application's table a source mapping describes, checked against the
// catalog so that a wrong name stops start-up with the key at fault. The
// live source is how the consumer decodes that table (nil: auditd's own).
func openStore(ctx context.Context, cfg *config, db *database, mapping *eventstore.Mapping, logger *slog.Logger) (*eventstore.Store, *eventstore.LiveSource, error) {
	if mapping == nil {
		return eventstore.New(db.Pool), nil, nil
	}
	store, src, err := eventstore.OpenMapped(ctx, db.Pool, mapping)
	if err == nil && db.separateState() {
		// The counter's tables are in the state database, away from the
		// events it settles against: counts are one aggregate per view.
		store = store.WithoutCountTables()
	}
	if err == nil {
		logger.Info("reading a mapped event table", "table", src.Tables[0].Qualified)
		return store, src, nil
	}
	_, source, _ := configFile(cfg)
	return nil, nil, fmt.Errorf("invalid source mapping in %s: %w", source, err)
}

// loadReducers parses the reducers file (--config, or the demo's built-in
// one); without one, events fold as JSON merge patches. A bad file stops
// start-up: the error names the file and the rule, and folding with half a
// config would show wrong states.
func loadReducers(cfg *config, logger *slog.Logger) (*timetravel.Config, error) {
	data, source, err := configFile(cfg)
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

// webConfig is the HTTP server's configuration from the flags, checked:
// --auth=off off a loopback address, or a non-loopback one without
// --public-url, stops start-up with the reason.
func webConfig(cfg *config) (web.Config, error) {
	wc := web.Config{Listen: cfg.Listen, PublicURL: cfg.PublicURL, Version: version}
	switch cfg.Auth {
	case "on", "":
	case "off":
		wc.AuthOff = true
	default:
		return wc, fmt.Errorf("invalid --auth %q: want on or off", cfg.Auth)
	}
	for _, p := range strings.Split(cfg.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return wc, fmt.Errorf("invalid --trusted-proxies entry %q: want a CIDR such as 10.0.0.0/8", p)
		}
		wc.TrustedProxies = append(wc.TrustedProxies, prefix)
	}
	var err error
	if wc.RequireCase, err = requireCase(cfg); err != nil {
		return wc, err
	}
	if cfg.OIDC.Issuer != "" {
		if wc.AuthOff {
			return wc, errors.New("--oidc-issuer with --auth=off: single sign-on needs sign-in on")
		}
		if wc.PublicURL == "" || cfg.OIDC.ClientID == "" {
			return wc, errors.New("--oidc-issuer needs --public-url (the provider redirects to <public-url>/login/oidc/callback) and --oidc-client-id")
		}
		cfg.OIDC.RedirectURL = strings.TrimSuffix(wc.PublicURL, "/") + "/login/oidc/callback"
	}
	return wc, wc.Validate()
}

// printSetupLink prints, when no user exists yet, the one-time link that
// creates the first admin. It goes to standard output, not to the log:
// the token is a secret, and logs travel further than a terminal.
func printSetupLink(ctx context.Context, svc *access.Service, wc web.Config, url string, logger *slog.Logger, stdout io.Writer) error {
	tok, err := svc.NewSetupToken(ctx)
	if errors.Is(err, access.ErrSetupDone) {
		return nil
	}
	if err != nil {
		return err
	}
	if wc.PublicURL != "" {
		url = strings.TrimSuffix(wc.PublicURL, "/") + "/"
	}
	logger.Warn("no users yet: the one-time link that creates the first admin is printed on standard output")
	fmt.Fprintf(stdout, "no users yet: create the first admin at %ssetup?token=%s (the link works once; or run auditd users add NAME --role admin)\n", url, tok)
	return nil
}
