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
}
