package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/static"
)

// routes registers every route of the application, in one place.
func (s *Server) routes() {
	e := s.echo
	s.middleware()

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.showMetrics)
	e.GET("/static/*", echo.WrapHandler(static.Handler()))
	e.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg") })

	e.GET("/", s.showOverview)

	// Streams, timelines, time travel and the global log.
	e.GET("/streams", s.listStreams)
	e.GET("/streams/:id", s.showTimeline)
	e.GET("/streams/:id/export.csv", s.exportCSV)
	e.GET("/streams/:id/export.json", s.exportJSON)
	e.GET("/streams/:id/state", s.showState)
	e.GET("/streams/:id/diff", s.showDiff)
	e.GET("/events", s.listEvents)
	e.GET("/events/:position", s.showEvent)

	// Live: the SSE feed, the live tail, tamper alerts.
	e.GET("/live", s.showLive)
	e.GET("/live/events", s.liveEvents)
	e.GET("/alerts", s.showAlerts)

	// Projections: lag panels, history, drift checks, per-stream status.
	e.GET("/projections", s.showProjections)
	e.GET("/projections/:name", s.showProjection)
	e.GET("/projections/:name/drift", s.showDrift)
	e.POST("/projections/:name/drift/jobs", s.startDriftJob)
	e.GET("/projections/:name/drift/jobs/:id", s.showDriftJob)
	e.GET("/streams/:id/projections", s.showStreamProjections)
}
