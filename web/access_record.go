package web

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
)

// recorder is what recordAccess writes to: the access service (a
// benchmark measures the page without it).
type recorder interface {
	RecordAccess(ctx context.Context, e access.AccessEntry) error
}

// recordAccess writes e to the access log with who asked and from where
// (user, role, the case reference, request id, client address, user
// agent), all taken from the request. Handlers call it after computing
// their answer and before writing it, and return its error: a view whose
// entry is not durable is not answered ("a response is not completed
// before its entry is durable"). With Config.RequireCase a view without a
// case reference is refused with a page that asks for one.
func (s *Server) recordAccess(c echo.Context, e access.AccessEntry) error {
	if s.recorder == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "this view is recorded in the access log, which needs the database: this server has none")
	}
	id := identityOf(c)
	e.UserName, e.Role, e.CaseRef = id.User.Name, id.User.Role, id.CaseRef
	e.RequestID, e.ClientAddr, e.UserAgent = id.RequestID, id.ClientAddr, id.UserAgent
	if id.Method != "session" {
		// No session to keep a case on: the client states it per request.
		ref, err := access.CleanCaseRef(c.Request().Header.Get(caseHeader))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "invalid "+caseHeader+" header: "+err.Error())
		}
		e.CaseRef = ref
	}
	if s.cfg.RequireCase && e.CaseRef == "" {
		return caseRequired(id)
	}
	if err := s.recorder.RecordAccess(c.Request().Context(), e); err != nil {
		if databaseUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err // the outage page, which retries by itself
		}
		return &echo.HTTPError{
			Code:     http.StatusServiceUnavailable,
			Message:  "this view could not be written to the access log, so it is not shown: try again in a moment",
			Internal: err,
		}
	}
	return nil
}

// maxRecordedFilters caps how many query parameters an entry keeps: the
// handlers read a handful, the rest are a client's noise.
const maxRecordedFilters = 16

// queryFilters is the request's query as an entry's filters (the first
// value of each parameter, at most maxRecordedFilters), nil when empty.
func queryFilters(c echo.Context) map[string]string {
	q := c.QueryParams()
	if len(q) == 0 {
		return nil
	}
	f := make(map[string]string, min(len(q), maxRecordedFilters))
	for k, v := range q {
		if len(f) == maxRecordedFilters {
			break
		}
		if len(v) > 0 {
			f[k] = v[0]
		}
	}
	return f
}

// versionWindow is a window of versions as entries write it, "v:3..v:9";
// empty when nothing was shown.
func versionWindow(first, last int) string {
	if last == 0 {
		return ""
	}
	return "v:" + strconv.Itoa(first) + "..v:" + strconv.Itoa(last)
}

// momentWindow is the moment a state was seen at, as entries write it:
// "v:7", or "at 2026-01-01T02:00:00Z (v:7)" for a time.
func momentWindow(m moment, version int) string {
	if m.hasAt {
		return "at " + m.at.UTC().Format(time.RFC3339Nano) + " (v:" + strconv.Itoa(version) + ")"
	}
	return "v:" + strconv.Itoa(version)
}

// timeWindow is a from/to range as entries write it, "2026-01-01T00:00:00Z..";
// empty when unbounded both ways.
func timeWindow(from, to time.Time) string {
	if from.IsZero() && to.IsZero() {
		return ""
	}
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return f(from) + ".." + f(to)
}

// exportFilters are an export's query filters with its format (csv or
// json, from the route), which the kind alone does not tell.
func exportFilters(c echo.Context) map[string]string {
	f := queryFilters(c)
	if f == nil {
		f = map[string]string{}
	}
	f["format"] = strings.TrimPrefix(path.Ext(c.Path()), ".")
	return f
}

// searchFilters are a search's query filters with what was searched (the
// path: /streams or /events), which the kind alone does not tell.
func searchFilters(c echo.Context) map[string]string {
	f := queryFilters(c)
	if f == nil {
		f = map[string]string{}
	}
	f["in"] = c.Path()
	return f
}
