package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// maxRevealReason bounds a reveal's stated reason, in characters.
const maxRevealReason = 500

// revealJSON is a revealed value as JSON.
type revealJSON struct {
	StreamID string `json:"stream_id"`
	Scope    string `json:"scope"` // state, payload or metadata
	Version  *int   `json:"version,omitempty"`
	Event    string `json:"event,omitempty"` // the event's key, as in /events/{key}
	Pointer  string `json:"pointer"`
	Value    any    `json:"value"`
}

// revealValue is POST /streams/{id}/reveal: one masked value in clear, for
// compliance and admin, with a stated reason. The form names the value:
// pointer, scope (state with version, or payload/metadata with the
// event's key: its position, or its event id) and reason. The reveal is written to the access log
// before the value is answered, and not answered when it cannot be: an
// htmx fragment that replaces the placeholder, or JSON.
func (s *Server) revealValue(c echo.Context) error {
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	if reason == "" {
		return badRequest("reason", "a reason is required to reveal a masked value (it is written to the access log)")
	}
	if utf8.RuneCountInString(reason) > maxRevealReason || !utf8.ValidString(reason) {
		return badRequest("reason", "write at most %d characters of text", maxRevealReason)
	}
	raw := c.FormValue("pointer")
	ptr, err := timetravel.ParsePointer(raw)
	if err != nil || ptr.IsRoot() {
		return badRequest("pointer", "%q is not a JSON pointer to a field (e.g. /owner)", raw)
	}
	ctx := c.Request().Context()
	info, err := s.deps.Store.Stream(ctx, id)
	if err != nil {
		return err
	}
	out := revealJSON{StreamID: info.StreamID, Pointer: ptr.String(), Scope: c.FormValue("scope")}
	entry := access.AccessEntry{Kind: access.KindReveal, StreamID: info.StreamID, Window: ptr.String(), Reason: reason,
		Filters: map[string]string{"scope": out.Scope}}
	var doc any
	var masked []timetravel.Pointer
	switch out.Scope {
	case "state":
		v, err := formInt(c, "version")
		if err != nil {
			return err
		}
		st, err := s.deps.TimeTravel.StateOf(ctx, info, timetravel.AtVersion(v))
		if err != nil {
			return invalidPoint(err)
		}
		out.Version, entry.Filters["version"] = &st.Version, strconv.Itoa(st.Version)
		doc, masked = map[string]any(st.Data), s.deps.PII.StatePointers(info.StreamType)
	case pii.PartPayload, pii.PartMetadata:
		ref := strings.TrimSpace(c.FormValue("event"))
		ev, _, err := s.deps.Store.EventByRef(ctx, ref)
		if errors.Is(err, eventstore.ErrInvalidEventRef) {
			return badRequest("event", "%q is not an event position (a positive whole number) or event id", ref)
		}
		if errors.Is(err, eventstore.ErrEventNotFound) || err == nil && ev.StreamID != info.StreamID {
			return echo.NewHTTPError(http.StatusNotFound, "event "+capEchoed(ref)+" is not an event of this stream")
		}
		if err != nil {
			return err
		}
		stored := ev.Payload
		if out.Scope == pii.PartMetadata {
			stored = ev.Metadata
		}
		if doc, err = timetravel.DecodeJSON(stored); err != nil {
			return badRequest("pointer", "the event's %s is not JSON: nothing at %q can be read", out.Scope, raw)
		}
		out.Event, entry.EventKey = ev.Ref(), ev.Ref()
		masked = s.deps.PII.EventPointers(info.StreamType, ev.EventType, out.Scope)
	default:
		return badRequest("scope", "%q is not state, payload or metadata", out.Scope)
	}
	if !pii.IsMasked(masked, ptr) {
		return badRequest("pointer", "%q is not masked there: it is shown on the page", raw)
	}
	if out.Value, err = ptr.Get(doc); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no value at "+capEchoed(ptr.String())+" there")
	}
	if err := s.recordAccess(c, entry); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Add("Vary", "Accept")
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, out)
	}
	vm := views.RevealedVM{Pointer: out.Pointer, Value: timetravel.JSONText(out.Value), Back: streamPath(info.StreamID, "")}
	if !isHTMX(c) {
		return s.renderHTML(c, http.StatusOK, views.RevealedPage(s.chrome(c, "Revealed value", "streams"), vm))
	}
	return s.renderHTML(c, http.StatusOK, views.RevealedValue(vm))
}

// formInt reads a required whole number from the form.
func formInt(c echo.Context, name string) (int, error) {
	v := strings.TrimSpace(c.FormValue(name))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest(name, "%q is not a whole number (≥ 0)", v)
	}
	return n, nil
}
