package web

import (
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/static"
)

// routes registers every route of the application, in one place.
func (s *Server) routes() {
	e := s.echo
	s.middleware()

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	e.GET("/", s.showOverview)

	// Streams, timelines, time travel and the global log (issue 3).

	// Live (issue 4).

	// Projections (issue 5).
}
