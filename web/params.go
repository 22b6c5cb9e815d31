package web

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Query parameter parsing shared by the pages. Every parser answers a 400
// naming the parameter (badRequest) for malformed input: handlers return its
// error as is.

// localTimeLayouts are what an <input type="datetime-local"> submits.
var localTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}

// timeFormatsHelp names the accepted forms in 400 messages.
const timeFormatsHelp = `use RFC 3339 (2025-05-16T02:00:03Z, 2025-05-16T04:00:03+02:00) or the date-time form 2025-05-16T02:00 (UTC unless tz=+02:00 is given)`

// parseTime parses a time as RFC 3339, or as a datetime-local value
// (YYYY-MM-DDTHH:MM[:SS]) in the zone tz, a UTC offset such as "+02:00",
// "-0530" or "Z" ("" means UTC). The browser's script fills tz from the
// viewer's zone; without script, date-time values are read as UTC.
func parseTime(value, tz string) (time.Time, error) {
	value = strings.TrimSpace(value)
	// A space instead of the T, as people type it.
	if len(value) > 10 && value[10] == ' ' {
		value = value[:10] + "T" + value[11:]
	}
	// An offset typed unencoded into a URL ("…T04:00:03+02:00") arrives
	// with a space for the "+".
	if i := strings.LastIndexByte(value, ' '); i > 10 {
		value = value[:i] + "+" + value[i+1:]
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t.UTC(), nil
	}
	loc, err := parseOffset(tz)
	if err != nil {
		return time.Time{}, err
	}
	for _, layout := range localTimeLayouts {
		if t, err := time.ParseInLocation(layout, value, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", value)
}

// offsetError is parseTime's answer for a tz that is not a UTC offset, so
// that callers name the tz parameter rather than the time.
type offsetError struct{ tz string }

func (e *offsetError) Error() string {
	return fmt.Sprintf("%q is not a UTC offset like +02:00 or -05:30", e.tz)
}

// parseOffset turns "+02:00", "+0200", "-05:30", "Z" or "" into a fixed zone.
// A leading space is a "+" that a URL typed by hand decoded as a space.
func parseOffset(tz string) (*time.Location, error) {
	if strings.HasPrefix(tz, " ") {
		tz = "+" + tz[1:]
	}
	tz = strings.TrimSpace(tz)
	if tz == "" || tz == "Z" || tz == "UTC" {
		return time.UTC, nil
	}
	for _, layout := range []string{"-07:00", "-0700", "-07"} {
		if t, err := time.Parse(layout, tz); err == nil {
			_, off := t.Zone()
			return time.FixedZone(tz, off), nil
		}
	}
	return nil, &offsetError{tz: tz}
}

// queryTime reads an optional time parameter (zero when absent), honouring
// the request's tz parameter for date-time values.
func queryTime(c echo.Context, name string) (time.Time, error) {
	v := strings.TrimSpace(c.QueryParam(name))
	if v == "" {
		return time.Time{}, nil
	}
	t, err := parseTime(v, c.QueryParam("tz"))
	if err != nil {
		return time.Time{}, timeParamError(name, err, "%q is not a time: %s", v, timeFormatsHelp)
	}
	return t, nil
}

// timeParamError is the 400 for a parseTime error: one naming tz when the
// zone is wrong, else one naming param with the message given.
func timeParamError(param string, err error, format string, args ...any) error {
	if oe, ok := errors.AsType[*offsetError](err); ok {
		return badRequest("tz", "%s", oe.Error())
	}
	return badRequest(param, format, args...)
}

// queryTimeRange reads from/to-style parameters and rejects a range that
// ends before it starts.
func queryTimeRange(c echo.Context, fromName, toName string) (from, to time.Time, err error) {
	if from, err = queryTime(c, fromName); err != nil {
		return
	}
	if to, err = queryTime(c, toName); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		err = badRequest(toName, "%s is before %s (%s)", to.Format(time.RFC3339), fromName, from.Format(time.RFC3339))
	}
	return
}

// queryInt reads an optional non-negative integer parameter (0 when absent):
// versions, limits and version cursors.
func queryInt(c echo.Context, name string) (int, error) {
	v := strings.TrimSpace(c.QueryParam(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest(name, "%q is not a non-negative whole number", v)
	}
	// Versions are int4 columns: a larger number would overflow in SQL.
	if n > math.MaxInt32 {
		return 0, badRequest(name, "%s is more than %d", v, math.MaxInt32)
	}
	return n, nil
}

// queryPosition reads an optional global-position cursor (0 when absent).
func queryPosition(c echo.Context, name string) (int64, error) {
	v := strings.TrimSpace(c.QueryParam(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest(name, "%q is not an event position (a positive whole number)", v)
	}
	return n, nil
}

// pageSize is how many rows a paged list shows without ?limit; links
// carry ?limit only when it differs.
const pageSize = 50

// queryLimit reads the page size: 1..maxN, pageSize when absent.
func queryLimit(c echo.Context, maxN int) (int, error) {
	n, err := queryInt(c, "limit")
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return pageSize, nil
	}
	if n > maxN {
		return 0, badRequest("limit", "%d is more than %d", n, maxN)
	}
	return n, nil
}

// queryText reads a free-text filter, trimmed, bounded in length so that a
// pasted megabyte never reaches the database.
func queryText(c echo.Context, name string) (string, error) {
	v := strings.TrimSpace(c.QueryParam(name))
	if len(v) > 512 {
		return "", badRequest(name, "longer than 512 bytes")
	}
	if !isText(v) {
		return "", badRequest(name, "not valid UTF-8 text")
	}
	return v, nil
}

// exclusive rejects two cursors given together.
func exclusive(c echo.Context, a, b string) error {
	if c.QueryParam(a) != "" && c.QueryParam(b) != "" {
		return badRequest(b, "%s and %s cannot be combined", a, b)
	}
	return nil
}

// eventFilters are the event-level filters that /events and /streams share,
// under the same parameter names.
type eventFilters struct {
	EventType     string    `json:"event_type,omitempty"`
	Actor         string    `json:"actor,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	From          time.Time `json:"from,omitzero"`
	To            time.Time `json:"to,omitzero"`
}

// parseEventFilters reads event_type, actor, correlation_id and the from/to
// time range; a malformed one is a 400 naming it.
func parseEventFilters(c echo.Context) (eventFilters, error) {
	var f eventFilters
	err := queryTexts(c, []textParam{{"event_type", &f.EventType}, {"actor", &f.Actor}, {"correlation_id", &f.CorrelationID}})
	if err != nil {
		return f, err
	}
	f.From, f.To, err = queryTimeRange(c, "from", "to")
	return f, err
}

// textParam is a free-text parameter and where it is read to.
type textParam struct {
	name string
	dst  *string
}

// queryTexts reads free-text parameters (queryText), in order.
func queryTexts(c echo.Context, params []textParam) error {
	for _, p := range params {
		v, err := queryText(c, p.name)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	return nil
}

// addTo writes the filters back as URL parameters.
func (f eventFilters) addTo(v url.Values) {
	setNonEmpty(v, "event_type", f.EventType)
	setNonEmpty(v, "actor", f.Actor)
	setNonEmpty(v, "correlation_id", f.CorrelationID)
	if !f.From.IsZero() {
		v.Set("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		v.Set("to", f.To.Format(time.RFC3339Nano))
	}
}

func setNonEmpty(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

// streamIDParam reads the {stream_id} path segment. Echo matches on the raw
// path when the URL has escapes its decoded form cannot express (an id
// with a "/" arrives as %2F): the parameter is then still escaped.
func streamIDParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if c.Request().URL.RawPath != "" {
		u, err := url.PathUnescape(id)
		if err != nil {
			return "", badRequest("stream_id", "%q is not a valid URL path segment", id)
		}
		id = u
	}
	if strings.TrimSpace(id) == "" {
		return "", badRequest("stream_id", "empty")
	}
	if !isText(id) || len(id) > 1024 {
		return "", badRequest("stream_id", "not a stream id")
	}
	return id, nil
}

// streamPath is the URL path of a stream's page plus suffix ("", "/state", …).
func streamPath(streamID, suffix string) string {
	return "/streams/" + url.PathEscape(streamID) + suffix
}

// maxQueryValue bounds every query parameter: the longest a page takes is
// a stream id (1,024 bytes); anything longer is a paste, not a filter.
const maxQueryValue = 2048

// validQuery answers 400, naming the parameter, for a query that is not
// well-formed (bad %-escapes), or with a name or value that is not UTF-8
// text, holds NUL or is longer than maxQueryValue: no handler (nor the
// database) ever sees such input.
func validQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Request().URL.RawQuery
		if raw == "" {
			return next(c)
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return badRequest("query", "not a well-formed query string (%%-escapes)")
		}
		for name, values := range q {
			if !isText(name) {
				return badRequest("parameter name", "%q is not valid UTF-8 text", name)
			}
			for _, v := range values {
				if !isText(v) {
					return badRequest(name, "not valid UTF-8 text, or holds a NUL byte")
				}
				if len(v) > maxQueryValue {
					return badRequest(name, "longer than %d bytes", maxQueryValue)
				}
			}
		}
		return next(c)
	}
}

// isText reports whether s is UTF-8 text without NUL.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
