package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// showEventRaw is GET /events/{position}/raw: the event's payload
// (?part=payload) or metadata (?part=metadata) whole, as stored; without
// part, the event as JSON. Pages show previews of large values and link
// here for the rest.
func (s *Server) showEventRaw(c echo.Context) error {
	pos, eventID, err := parseEventRef(c.Param("position"))
	if err != nil {
		return err
	}
	part := c.QueryParam("part")
	switch part {
	case "", "payload", "metadata":
	default:
		return badRequest("part", "%q is not payload or metadata", part)
	}
	ctx := c.Request().Context()
	var ev eventstore.Event
	if eventID != "" {
		ev, err = s.deps.Store.EventByID(ctx, eventID)
	} else {
		ev, err = s.deps.Store.Event(ctx, pos)
	}
	if err != nil {
		return err
	}
	s.maskEvent(&ev)
	name := "event-" + views.I64(ev.Position)
	if part != "" {
		name += "-" + part
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `inline; filename="`+name+`.json"`)
	switch part {
	case "payload":
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, rawOrNull(ev.Payload))
	case "metadata":
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, rawOrNull(ev.Metadata))
	}
	return c.JSON(http.StatusOK, ev)
}

// rawOrNull is a stored JSON value, or null for none.
func rawOrNull(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}
