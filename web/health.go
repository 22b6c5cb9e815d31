package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/schema"
)

// healthz answers while the process is up: liveness only.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status     string        `json:"status"`
	Database   string        `json:"database"`
	Migrations schema.Status `json:"migrations"`
	Error      string        `json:"error,omitempty"`
}

// readyz answers 200 only when the database answers and every migration this
// binary knows is applied.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	r := readiness{Status: "ready", Database: "ok"}
	if err := s.deps.Pool.Ping(ctx); err != nil {
		r.Status, r.Database, r.Error = "unavailable", "unreachable", "database unreachable"
		return c.JSON(http.StatusServiceUnavailable, r)
	}
	check := schema.Check
	if s.deps.MappedSource {
		check = schema.CheckOwn
	}
	st, err := check(ctx, s.deps.Pool)
	r.Migrations = st
	if err != nil {
		r.Status, r.Error = "unavailable", err.Error()
		return c.JSON(http.StatusServiceUnavailable, r)
	}
	return c.JSON(http.StatusOK, r)
}
