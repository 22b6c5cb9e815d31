package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
)

// recordAccess writes e to the access log with who asked and from where
// (user, role, the session's case reference, request id, client address,
// user agent), all taken from the request. Handlers call it after
// computing their answer and before writing it, and return its error: a
// view whose entry is not durable is not answered ("a response is not
// completed before its entry is durable").
func (s *Server) recordAccess(c echo.Context, e access.AccessEntry) error {
	if s.accessLog == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "this view is recorded in the access log, which needs the database: this server has none")
	}
	id := identityOf(c)
	e.UserName, e.Role, e.CaseRef = id.User.Name, id.User.Role, id.CaseRef
	e.RequestID, e.ClientAddr, e.UserAgent = id.RequestID, id.ClientAddr, id.UserAgent
	if err := s.accessLog.RecordAccess(c.Request().Context(), e); err != nil {
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
