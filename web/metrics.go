package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/projections"
)

// metrics is what GET /metrics exposes. It keeps only what no service
// counts already (request durations, resyncs sent); everything else is read
// from the services' own stats when Prometheus scrapes, so the figures
// cannot drift from what the pages show.
type metrics struct {
	requests *prometheus.HistogramVec
	resyncs  prometheus.Counter
	handler  http.Handler
}

// newMetrics builds a registry of its own per server (tests run many
// servers in one process; the global registry would mix them) with the
// collectors of the services deps has.
func newMetrics(version string, deps Deps) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditd_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (not the raw path: ids would make a series each) and status. An SSE feed counts until it is handed to its writer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditd_live_resyncs_total",
			Help: "resync messages sent to SSE clients (a cursor outside the resume window, or a client cut off).",
		}),
	}
	if version == "" {
		version = "dev"
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "auditd_build_info",
		Help: "Always 1; the labels say which auditd runs.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(m.requests, m.resyncs, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if deps.LiveHub != nil {
		reg.MustRegister(liveCollector(deps.LiveHub, deps.LiveConsumer))
	}
	if deps.Projections != nil {
		reg.MustRegister(projectionsCollector{mon: deps.Projections, logger: deps.Logger})
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(deps.Logger.Handler(), slog.LevelWarn),
		// A collector that fails leaves its metrics out; the rest are
		// still worth scraping.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// observe records each request's duration under its route pattern. It runs
// outside the request logger, which has already turned an error into the
// response, so the status is the one the client got.
func (m *metrics) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		return err
	}
}

// showMetrics is GET /metrics, in the Prometheus text format.
func (s *Server) showMetrics(c echo.Context) error {
	if err := s.metricsAllowed(c); err != nil {
		return err
	}
	s.metrics.handler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// metricsAllowed reports whether the client may read /metrics: from
// loopback without credentials (a scraper on the host), from anywhere else
// only with a session or API token of an engineer or above, the role that
// sees projections and the live page those figures describe. Loopback is
// the socket's peer, never X-Forwarded-For, which any client can set. (A
// reverse proxy on the same host makes every client loopback: do not route
// /metrics through it.)
func (s *Server) metricsAllowed(c echo.Context) error {
	if host, _, err := net.SplitHostPort(c.Request().RemoteAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	var id access.Identity
	if _, err := c.Cookie(sessionCookie); err == nil || c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		if id, err = s.identify(c, id); err != nil {
			return err // a bad token: 401
		}
	}
	if !id.SignedIn() || !id.User.Role.Reaches(access.Engineer) {
		return echo.NewHTTPError(http.StatusForbidden, "/metrics answers clients on this host, or a session or API token of the engineer role or higher")
	}
	return nil
}

// statsCollector reports figures of a service's stats, read once per scrape
// with read: the service keeps the numbers, the collector only names them.
type statsCollector[S any] struct {
	read  func() S
	stats []stat[S]
}

// stat is one figure of S as a metric.
type stat[S any] struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(S) float64
}

func (sc statsCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, st := range sc.stats {
		ch <- st.desc
	}
}

func (sc statsCollector[S]) Collect(ch chan<- prometheus.Metric) {
	v := sc.read()
	for _, st := range sc.stats {
		ch <- prometheus.MustNewConstMetric(st.desc, st.kind, st.value(v))
	}
}

// newStat is a stat of a metric without labels.
func newStat[S any](name, help string, kind prometheus.ValueType, value func(S) float64) stat[S] {
	return stat[S]{desc: prometheus.NewDesc(name, help, nil, nil), kind: kind, value: value}
}

// liveCollector reads the live hub's stats and, when there is one, the
// replication consumer's (which carry the hub's) at scrape time.
func liveCollector(hub *live.Hub, consumer *live.Consumer) prometheus.Collector {
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	sc := statsCollector[live.Stats]{
		read: func() live.Stats { return live.Stats{Hub: hub.Stats()} },
		stats: []stat[live.Stats]{
			newStat("auditd_live_subscribers", "Open SSE subscriptions.", g,
				func(s live.Stats) float64 { return float64(s.Hub.Subscribers) }),
			newStat("auditd_live_cut_offs_total", "SSE subscribers cut off for falling behind their budget.", c,
				func(s live.Stats) float64 { return float64(s.Hub.CutOff) }),
			newStat("auditd_live_window_events", "Events in the live resume window.", g,
				func(s live.Stats) float64 { return float64(s.Hub.Window) }),
			newStat("auditd_live_window_bytes", "Bytes the live resume window counts (data and rendered frames).", g,
				func(s live.Stats) float64 { return float64(s.Hub.WindowBytes) }),
		},
	}
	if consumer == nil {
		return sc
	}
	sc.read = consumer.Stats
	sc.stats = append(sc.stats,
		newStat("auditd_live_consumer_events_total", "Events the replication consumer decoded and published (rate() of it is events/s).", c,
			func(s live.Stats) float64 { return float64(s.EventsTotal) }),
		newStat("auditd_live_consumer_connected", "1 while the replication consumer streams from the server.", g,
			func(s live.Stats) float64 { return boolValue(s.Connected) }),
		newStat("auditd_live_consumer_reconnects_total", "Replication connections lost and retried.", c,
			func(s live.Stats) float64 { return float64(s.Reconnects) }),
		newStat("auditd_live_consumer_behind_bytes", "Bytes between the server's WAL end and what the consumer processed.", g,
			func(s live.Stats) float64 { return float64(s.LagBytes) }),
	)
	return sc
}

// boolValue is 1 for true, as Prometheus spells a flag.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	projLagPositions = prometheus.NewDesc("auditd_projection_lag_positions", "Positions between the event store's head and the projection's checkpoint.", []string{"projection"}, nil)
	projLagSeconds   = prometheus.NewDesc("auditd_projection_lag_seconds", "Age of the oldest event the projection has not processed, against the head.", []string{"projection"}, nil)
	projStatus       = prometheus.NewDesc("auditd_projection_status", "1 for the projection's current status, 0 for the others.", []string{"projection", "status"}, nil)
	projUp           = prometheus.NewDesc("auditd_projections_up", "1 when the last scrape could read the projections' checkpoints.", nil, nil)
	slotRetained     = prometheus.NewDesc("auditd_replication_slot_retained_wal_bytes", "WAL the server keeps for the logical slot (from its restart_lsn).", []string{"slot"}, nil)
	slotActive       = prometheus.NewDesc("auditd_replication_slot_active", "1 while a consumer is attached to the slot.", []string{"slot"}, nil)
)

// projectionStatuses are every status a projection can have: each is a
// series, so that a status change is a value change, not a series vanishing.
var projectionStatuses = []projections.Status{projections.StatusFailing, projections.StatusStalled,
	projections.StatusCatchingUp, projections.StatusCaughtUp, projections.StatusIdle}

// projectionsScrapeTimeout bounds the monitor's queries during a scrape;
// Prometheus's own default timeout is 10 s.
const projectionsScrapeTimeout = 5 * time.Second

// projectionsCollector reads the projection monitor's overview (the panels'
// own computation: lag, status, slots) at scrape time.
type projectionsCollector struct {
	mon    *projections.Monitor
	logger *slog.Logger
}

func (projectionsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{projLagPositions, projLagSeconds, projStatus, projUp, slotRetained, slotActive} {
		ch <- d
	}
}

func (pc projectionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), projectionsScrapeTimeout)
	defer cancel()
	ov, err := pc.mon.Overview(ctx)
	if err != nil {
		pc.logger.Warn("web: metrics: unable to read projections", "error", err)
		ch <- prometheus.MustNewConstMetric(projUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(projUp, prometheus.GaugeValue, 1)
	for _, p := range ov.Projections {
		ch <- prometheus.MustNewConstMetric(projLagPositions, prometheus.GaugeValue, float64(p.LagEvents), p.Name)
		ch <- prometheus.MustNewConstMetric(projLagSeconds, prometheus.GaugeValue, p.LagSeconds, p.Name)
		for _, st := range projectionStatuses {
			ch <- prometheus.MustNewConstMetric(projStatus, prometheus.GaugeValue, boolValue(p.Status == st), p.Name, string(st))
		}
	}
	for _, s := range ov.Slots {
		ch <- prometheus.MustNewConstMetric(slotActive, prometheus.GaugeValue, boolValue(s.Active), s.Name)
		if s.RetainedBytes != nil {
			ch <- prometheus.MustNewConstMetric(slotRetained, prometheus.GaugeValue, float64(*s.RetainedBytes), s.Name)
		}
	}
}
