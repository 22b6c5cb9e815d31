package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/views"
)

type streamProjectionsJSON struct {
	StreamID    string `json:"stream_id"`
	Projections any    `json:"projections"`
}

// showStreamProjections is GET /streams/{id}/projections: for each
// projection, whether this stream's latest event is processed. It answers
// an HTML fragment (no layout) for the stream page to load with htmx, or
// JSON.
func (s *Server) showStreamProjections(c echo.Context) error {
	if err := s.requireProjections(); err != nil {
		return err
	}
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	st, err := s.deps.Projections.StreamStatus(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if wantsJSON(c) {
		c.Response().Header().Add("Vary", "Accept")
		return c.JSON(http.StatusOK, streamProjectionsJSON{StreamID: id, Projections: st})
	}
	vm := views.StreamProjectionsVM{StreamID: id}
	for _, p := range st {
		vm.Items = append(vm.Items, views.StreamProjectionItem{Projection: p.Projection, Checkpoint: p.Checkpoint, Processed: p.Processed, EventsBehind: p.EventsBehind, NeverWrote: p.NeverWrote})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.renderHTML(c, http.StatusOK, views.StreamProjections(vm))
}
