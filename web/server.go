// Package web is auditd's HTTP layer: every route (routes.go), one handler
// file per page or action, middleware, and the one render helper that answers
// HTML or JSON.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/internal/timetravel"
)

// Config is the HTTP server's own configuration. Its zero value serves
// with sign-in on, on 127.0.0.1:8080.
type Config struct {
	Listen string // host:port
	// Version is the build's version, for /metrics' auditd_build_info.
	Version string
	// AuthOff serves every route without sign-in, as admin, with a red
	// banner on every page; Validate refuses it off a loopback address.
	AuthOff bool
	// PublicURL is the address users open (https://auditd.example.org):
	// its host is the one accepted in Host headers besides loopback names,
	// and an https scheme makes the session cookie Secure (behind a
	// TLS-terminating proxy). Required on a non-loopback Listen.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For is believed for
	// the client address; none: the peer's address is the client's.
	TrustedProxies []netip.Prefix
	// RequireCase refuses recorded views (web/access_record.go) until the
	// session has a case reference; needs sign-in.
	RequireCase bool
}

// defaultListen is where a zero Config listens.
const defaultListen = "127.0.0.1:8080"

// Deps are the services the handlers read from. Optional ones may be nil:
// their pages then answer 503 with a message.
type Deps struct {
	Pool   *pgxpool.Pool
	Store  *eventstore.Store
	Logger *slog.Logger
	// MappedSource is set when Store reads an application's event table:
	// /readyz then expects only the migrations of auditd's own schema.
	MappedSource bool
	// Banners are the header banners pages show; nil: none.
	Banners *BannerRefresher
	// SourceSetup describes a mapped source for /setup/source (nil:
	// auditd's own table, nothing to set up).
	SourceSetup *SourceSetup

	// Time travel.
	// TimeTravel folds states with the configured reducers and snapshots;
	// nil: New builds one that folds with merge patches only and writes no
	// snapshots (a cache under a config nobody chose would only be noise).
	TimeTravel *timetravel.Service

	// Live.
	LiveHub      *live.Hub      // nil: /live/events answers 503
	LiveConsumer *live.Consumer // metrics for the /live header; may be nil
	LiveResume   *live.Resume   // resumes cursors older than the hub's window from the ledger; may be nil
	// Ledger is the witness ledger, for /streams/{id}/verify (nil: 503).
	Ledger *ledger.Store
	// Checkpoints signs the ledger's head and evidence bundles, and holds
	// the key /about/keys shows (nil: no key; evidence answers 503).
	Checkpoints *ledger.Checkpointer
	// LedgerAudit verifies the whole store in the background, for /verify
	// (nil: 503).
	LedgerAudit *ledger.Auditor
	// BackdatedAfter flags an event recorded more than this before its
	// commit (default ledger.DefaultBackdatedAfter).
	BackdatedAfter time.Duration

	LiveAlerts    *live.Alerts  // tamper alerts; may be nil
	LiveHeartbeat time.Duration // SSE heartbeat comment interval (default 15 s)
	// LiveWriteStall drops an SSE client whose socket accepts nothing for
	// this long (default 30 s); the per-client queue catches slow readers
	// earlier, this catches dead ones.
	LiveWriteStall time.Duration
	// LiveLinger is how long an SSE client's writer waits after an event
	// for the rest of its burst before flushing (default 1 ms; negative: 0).
	LiveLinger time.Duration

	// PII is the masking policy (the configuration's "pii" section): every
	// page masks its result with it; nil masks nothing.
	PII *pii.Policy

	// Access checks sign-ins, sessions and tokens; nil with sign-in on:
	// New builds one on Pool.
	Access *access.Service
	// OIDC signs users in through an OpenID Provider; nil: no single
	// sign-on.
	OIDC *access.OIDC

	// Projections.
	Projections *projections.Monitor // nil: /projections answers 503
	Drift       *projections.Drift   // nil: drift pages answer 503
	// ProjectionsLiveURL is the SSE endpoint whose `lag` messages refresh
	// the panels (e.g. "/live/events?types=lag"); empty: per-second refresh.
	ProjectionsLiveURL string
	// ProjectionsPoll is how often the panels refresh without a lag
	// message (default 1 s).
	ProjectionsPoll time.Duration
}

// Server is auditd's HTTP server.
type Server struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	echo   *echo.Echo
	http   *http.Server
	addr   net.Addr
	// metrics are /metrics' registry and the request histogram.
	metrics *metrics

	access *access.Service
	// accessLog records views (web/access_record.go, through recorder)
	// and reads them back: the access service, or with sign-in off one on
	// the pool, since views are recorded then too (as the auth-off user).
	accessLog *access.Service
	recorder  recorder
	publicURL *url.URL
	// cfgErr is cfg's Validate error: Start returns it, and every request
	// answers 503 with it, so an invalid configuration serves nothing.
	cfgErr error
	// needs is the role each route ("GET /streams/:id") declares; 0 for
	// the open ones. authorize refuses routes missing from it.
	needs map[string]access.Role
}

// New builds the server and registers every route.
func New(cfg Config, deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.TimeTravel == nil && deps.Store != nil {
		deps.TimeTravel = timetravel.NewService(deps.Store, nil, deps.Logger, timetravel.ServiceOptions{SnapshotEvery: -1})
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	if deps.Access == nil && deps.Pool != nil && !cfg.AuthOff {
		deps.Access = access.NewService(deps.Pool, deps.Logger, access.Options{})
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	s := &Server{cfg: cfg, deps: deps, logger: deps.Logger, echo: e, access: deps.Access, cfgErr: cfg.Validate(), needs: map[string]access.Role{}}
	if s.accessLog = deps.Access; s.accessLog == nil && deps.Pool != nil {
		s.accessLog = access.NewService(deps.Pool, deps.Logger, access.Options{})
	}
	if s.accessLog != nil {
		s.recorder = s.accessLog
	}
	if cfg.PublicURL != "" && s.cfgErr == nil {
		s.publicURL, _ = parsePublicURL(cfg.PublicURL)
	}
	e.HTTPErrorHandler = s.handleError
	s.metrics = newMetrics(cfg.Version, deps)
	s.routes()
	return s
}

// Handler returns the root handler (used by tests with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

// shutdownGrace is how long Stop waits for open requests. SSE responses
// end when the live hub closes, which the caller does before Stop.
const shutdownGrace = 10 * time.Second

// Start listens and serves until Stop. It returns once the listener is bound,
// so callers can print Addr knowing it answers.
func (s *Server) Start(ctx context.Context) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: unable to listen on %s: %w", s.cfg.Listen, err)
	}
	s.addr = ln.Addr()
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: SSE responses stay open for hours. Handlers that
		// do real work bound themselves with the request context.
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("web: server stopped", "error", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on (with the port chosen when the
// configured one was 0), or nil before Start.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop shuts the server down gracefully, waiting up to shutdownGrace for
// open requests.
func (s *Server) Stop() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.logger.Warn("web: requests still open at shutdown", "error", err)
	}
}
