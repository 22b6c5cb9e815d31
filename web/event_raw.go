package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
)

// showEventRaw is GET /events/{position}/raw: the event's payload
// (?part=payload) or metadata (?part=metadata) whole, as stored; without
// part, the event as JSON. Pages show previews of large values and link
// here for the rest.
func (s *Server) showEventRaw(c echo.Context) error {
	part := c.QueryParam("part")
	switch part {
	case "", "payload", "metadata":
	default:
		return badRequest("part", "%q is not payload or metadata", part)
	}
	ev, _, err := s.eventByRef(c)
	if err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindEvent, StreamID: ev.StreamID, EventKey: ev.Ref(), Window: versionWindow(ev.Version, ev.Version), Filters: queryFilters(c)}); err != nil {
		return err
	}
	s.maskEvent(&ev)
	name := "event-" + ev.Ref()
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
