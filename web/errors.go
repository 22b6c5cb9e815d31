package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// badRequest is a 400 naming the parameter that is wrong. Text arguments are
// what the client sent: they are cut to maxEchoed characters, so that a
// 100 KB parameter gives a short message, not a 100 KB page.
func badRequest(param, format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = capEchoed(s)
		}
	}
	return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("invalid %s: %s", capEchoed(param), fmt.Sprintf(format, args...)))
}

// maxEchoed is how many characters of a client's value an error message
// repeats.
const maxEchoed = 80

// capEchoed cuts s to maxEchoed characters, marking the cut with "…", and
// shows bytes that are not text (invalid UTF-8, NUL) as "\uFFFD".
func capEchoed(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if utf8.RuneCountInString(s) <= maxEchoed {
		return s
	}
	return string([]rune(s)[:maxEchoed]) + "…"
}

// notFound is a 404 with a message for the page.
func notFound(format string, args ...any) error {
	return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf(format, args...))
}

// errorBody is the JSON shape of every error.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// handleError turns any handler error into a page or JSON with the right
// status. Typed store errors map to 4xx; anything else is a 500 whose details
// stay in the log, never in the response.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	msg := "internal error: see the server log"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		msg = fmt.Sprint(he.Message)
		if he.Internal != nil && status >= 500 {
			s.logger.Error("web: request failed", "path", c.Request().URL.Path, "error", he.Internal)
		}
	case errors.Is(err, eventstore.ErrStreamNotFound), errors.Is(err, eventstore.ErrEventNotFound):
		status = http.StatusNotFound
		msg = notFoundText(c, err)
	case errors.Is(err, eventstore.ErrInvalidCursor):
		status = http.StatusBadRequest
		msg = "That page cursor is not valid: follow the page's own links."
	case errors.Is(err, eventstore.ErrEmptyStreamID):
		status = http.StatusBadRequest
		msg = "A stream id is needed."
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
		return
	case databaseUnavailable(err):
		// An outage, said as one: the page comes back by itself, so
		// there is nothing to log per request (the banner says it).
		status = http.StatusServiceUnavailable
		msg = databaseUnavailableText
		c.Response().Header().Set("Retry-After", strconv.Itoa(outageRetryAfter))
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
		msg = "the database did not answer in time"
	default:
		s.logger.Error("web: request failed", "path", c.Request().URL.Path, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if wantsJSON(c) || !acceptsHTML(c) {
		_ = c.JSON(status, errorBody{Error: msg, Status: status})
		return
	}
	ch := s.chromeNoBanners(c, http.StatusText(status))
	vm := views.ErrorVM{Status: status, Title: http.StatusText(status), Message: msg, ShowSearch: status == http.StatusNotFound}
	if status == http.StatusServiceUnavailable && msg == databaseUnavailableText {
		ch.Banners = withOutage(s.deps.Banners.Banners())
		vm.RetryAfter = outageRetryAfter
	}
	page := views.ErrorPage(ch, vm)
	_ = s.renderHTML(c, status, page)
}

// databaseUnavailableText is what pages and JSON say while the database
// cannot be reached.
const databaseUnavailableText = "database unavailable, retrying"

// outageBanner is the header banner of a database outage.
// Its ID lets static/app.js show and clear it on a feed's status message.
var outageBanner = views.Banner{Level: "danger", Text: "Database unavailable, retrying: pages come back by themselves when it is.", ID: "banner-outage"}

// outageRetryAfter is the Retry-After of an outage's 503, in seconds; the
// page reloads itself after it.
const outageRetryAfter = 5

// databaseUnavailable reports whether err means the database server cannot
// be reached or is going away (an outage: 503, and the client may retry),
// as opposed to a wrong query or a bad value. It goes by the error's class,
// never by its text; this is the one place that decides it.
func databaseUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", // admin_shutdown: the server is stopping
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up or shutting down
			"53300": // too_many_connections
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection_exception
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A socket that broke mid-query; a context's deadline also looks
	// like a net.Error, but it is the request's own limit.
	var ne net.Error
	return errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// withOutage is banners with the outage banner first, once.
func withOutage(banners []views.Banner) []views.Banner {
	out := []views.Banner{outageBanner}
	for _, b := range banners {
		if b != outageBanner {
			out = append(out, b)
		}
	}
	return out
}

// notFoundText says for people what the store did not find (err is its
// ErrStreamNotFound or ErrEventNotFound), naming what the request asked
// for rather than repeating the store's own text.
func notFoundText(c echo.Context, err error) string {
	if errors.Is(err, eventstore.ErrEventNotFound) {
		ref := c.Param("position")
		switch {
		case eventstore.IsEventID(ref):
			return fmt.Sprintf("No event with id “%s”.", strings.ToLower(ref))
		case ref != "":
			return fmt.Sprintf("No event at position %s.", capEchoed(ref))
		}
		return "No such event."
	}
	id, perr := streamIDParam(c)
	if perr != nil {
		id = c.QueryParam("stream_id")
	}
	if id == "" {
		return "No such stream."
	}
	return fmt.Sprintf("No stream with id “%s”.", capEchoed(id))
}

// chromeNoBanners builds the layout for error pages without touching the
// database: the error may be that the database is down.
func (s *Server) chromeNoBanners(c echo.Context, title string) views.Chrome {
	ch := views.Chrome{Title: title, AuthOff: s.cfg.AuthOff, Display: s.display()}
	if tok, ok := c.Get(csrfContextKey).(string); ok {
		ch.CSRFToken = tok
	}
	if id := identityOf(c); id.SignedIn() && id.Method != "off" {
		ch.User, ch.Role = id.User.Name, id.User.Role.String()
	}
	s.caseChrome(c, &ch)
	return ch
}

// display is the configuration's key fields of event rows (nil without a
// time-travel service).
func (s *Server) display() func(string) ([]string, bool) {
	if s.deps.TimeTravel == nil {
		return nil
	}
	return s.deps.TimeTravel.Folder().Config().Display
}

func acceptsHTML(c echo.Context) bool {
	accept := c.Request().Header.Get("Accept")
	return accept == "" || strings.Contains(accept, "text/html") || strings.Contains(accept, "*/*")
}
