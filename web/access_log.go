package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/views"
)

// accessLogFilters are /access-log's filters, as given.
type accessLogFilters struct {
	User   string    `json:"user,omitempty"`
	Stream string    `json:"stream,omitempty"`
	Case   string    `json:"case,omitempty"`
	Kind   string    `json:"kind,omitempty"`
	From   time.Time `json:"from,omitzero"`
	To     time.Time `json:"to,omitzero"`
}

// query renders the filters back as URL parameters.
func (f accessLogFilters) query() url.Values {
	v := url.Values{}
	setNonEmpty(v, "user", f.User)
	setNonEmpty(v, "stream", f.Stream)
	setNonEmpty(v, "case", f.Case)
	setNonEmpty(v, "kind", f.Kind)
	eventFilters{From: f.From, To: f.To}.addTo(v) // the same from/to form
	return v
}

func (f accessLogFilters) accessQuery() access.AccessQuery {
	return access.AccessQuery{UserName: f.User, StreamID: f.Stream, CaseRef: f.Case, Kind: f.Kind, From: f.From, To: f.To}
}

// parseAccessLogFilters reads user, stream, case, kind and the from/to
// range; a malformed one is a 400 naming it.
func parseAccessLogFilters(c echo.Context) (accessLogFilters, error) {
	var f accessLogFilters
	err := queryTexts(c, []textParam{{"user", &f.User}, {"stream", &f.Stream}, {"case", &f.Case}, {"kind", &f.Kind}})
	if err != nil {
		return f, err
	}
	if f.Kind != "" && !access.ValidKind(f.Kind) {
		return f, badRequest("kind", "%q is not a kind of view: want one of %s", f.Kind, strings.Join(access.Kinds(), ", "))
	}
	f.From, f.To, err = queryTimeRange(c, "from", "to")
	return f, err
}

// showAccessLog is GET /access-log (and /access-log.csv): who saw what,
// newest first, filtered, a keyset page at a time; ?format=csv (or the
// .csv path) is every matching entry as a download. Reading the log is
// recorded in it too.
func (s *Server) showAccessLog(c echo.Context) error {
	if s.accessLog == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the access log needs the database: this server has none")
	}
	f, err := parseAccessLogFilters(c)
	if err != nil {
		return err
	}
	csv := c.QueryParam("format") == "csv" || strings.HasSuffix(c.Path(), ".csv")
	if csv {
		return s.exportAccessLog(c, f)
	}
	q := f.accessQuery()
	if raw := c.QueryParam("after"); raw != "" {
		cur, err := access.ParseAccessCursor(raw)
		if err != nil {
			return badRequest("after", "%q is not a cursor of this page: follow the page's own links", raw)
		}
		q.After = &cur
	}
	if q.Limit, err = queryLimit(c, access.MaxAccessPage); err != nil {
		return err
	}
	entries, next, err := s.accessLog.AccessLog(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindAccessLog, StreamID: f.Stream, Filters: queryFilters(c)}); err != nil {
		return err
	}
	r := accessLogResult{filters: f, entries: entries, next: next, limit: q.Limit, paged: q.After != nil}
	return s.renderResult(c, http.StatusOK, "Access log", "access-log", r)
}

// accessLogCSVHeader is the CSV export's header row.
var accessLogCSVHeader = []string{"id", "at", "user", "role", "kind", "stream_id", "event_key", "window", "filters",
	"reason", "case_ref", "request_id", "client_addr", "user_agent"}

// exportAccessLog streams every entry the filters select as CSV, newest
// first, a page of the keyset at a time, so memory stays flat.
func (s *Server) exportAccessLog(c echo.Context, f accessLogFilters) error {
	ctx := c.Request().Context()
	q := f.accessQuery()
	q.Limit = access.MaxAccessPage
	entries, next, err := s.accessLog.AccessLog(ctx, q)
	if err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindAccessLog, StreamID: f.Stream, Filters: queryFilters(c)}); err != nil {
		return err
	}
	startDownload(c, "text/csv; charset=utf-8", "access-log.csv")
	w := newCSVWriter(c.Response())
	if err := w.Write(accessLogCSVHeader); err != nil {
		return s.abortExport(c, err)
	}
	for {
		for _, e := range entries {
			filters := ""
			if len(e.Filters) > 0 {
				b, _ := json.Marshal(e.Filters)
				filters = string(b)
			}
			if err := w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.UserName, e.Role.String(),
				e.Kind, e.StreamID, e.EventKey, e.Window, filters, e.Reason, e.CaseRef, e.RequestID, e.ClientAddr, e.UserAgent}); err != nil {
				return s.abortExport(c, err)
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return s.abortExport(c, err)
		}
		c.Response().Flush()
		if next == nil {
			return nil
		}
		q.After = next
		if entries, next, err = s.accessLog.AccessLog(ctx, q); err != nil {
			return s.abortExport(c, err)
		}
	}
}

// accessLogResult is a page of the access log.
type accessLogResult struct {
	filters accessLogFilters
	entries []access.AccessRecord
	next    *access.AccessCursor
	limit   int
	paged   bool // not the newest page
}

// accessEntryJSON is one entry in the JSON answer.
type accessEntryJSON struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	User       string            `json:"user"`
	Role       string            `json:"role"`
	Kind       string            `json:"kind"`
	StreamID   string            `json:"stream_id,omitempty"`
	EventKey   string            `json:"event_key,omitempty"`
	Window     string            `json:"window,omitempty"`
	Filters    map[string]string `json:"filters,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	CaseRef    string            `json:"case_ref,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	UserAgent  string            `json:"user_agent,omitempty"`
}

func (r accessLogResult) toJSON() any {
	out := struct {
		Filters accessLogFilters  `json:"filters"`
		Entries []accessEntryJSON `json:"entries"`
		Next    *string           `json:"next"`
	}{Filters: r.filters, Entries: []accessEntryJSON{}}
	for _, e := range r.entries {
		out.Entries = append(out.Entries, accessEntryJSON{ID: e.ID, At: e.At, User: e.UserName, Role: e.Role.String(), Kind: e.Kind,
			StreamID: e.StreamID, EventKey: e.EventKey, Window: e.Window, Filters: e.Filters, Reason: e.Reason, CaseRef: e.CaseRef,
			RequestID: e.RequestID, ClientAddr: e.ClientAddr, UserAgent: e.UserAgent})
	}
	if r.next != nil {
		n := r.next.String()
		out.Next = &n
	}
	return out
}

// link is the page's URL with the filters, the limit when not the
// default, and extra parameters.
func (r accessLogResult) link(extra url.Values) string {
	v := r.filters.query()
	if r.limit != pageSize {
		v.Set("limit", strconv.Itoa(r.limit))
	}
	for k, vs := range extra {
		v[k] = vs
	}
	if len(v) == 0 {
		return "/access-log"
	}
	return "/access-log?" + v.Encode()
}

func (r accessLogResult) toView(chrome views.Chrome) templ.Component {
	vm := views.AccessLogVM{
		User: r.filters.User, Stream: r.filters.Stream, Case: r.filters.Case, Kind: r.filters.Kind,
		From: formValue(r.filters.From), To: formValue(r.filters.To), Kinds: access.Kinds(),
		CSVURL: accessLogCSVLink(r.filters), JSONURL: r.link(url.Values{"format": {"json"}}),
	}
	if r.next != nil {
		vm.NextURL = r.link(url.Values{"after": {r.next.String()}})
	}
	if r.paged {
		vm.FirstURL = r.link(nil)
	}
	for _, e := range r.entries {
		row := views.AccessLogRow{At: e.At, User: e.UserName, Role: e.Role.String(), Kind: e.Kind, Stream: e.StreamID,
			Event: e.EventKey, Window: e.Window, Reason: e.Reason, Case: e.CaseRef, RequestID: e.RequestID,
			Client: e.ClientAddr, UserAgent: e.UserAgent}
		if e.StreamID != "" {
			row.StreamURL = streamPath(e.StreamID, "")
		}
		if e.EventKey != "" {
			row.EventURL = "/events/" + url.PathEscape(e.EventKey)
		}
		if len(e.Filters) > 0 {
			b, _ := json.Marshal(e.Filters)
			row.Filters = string(b)
		}
		vm.Entries = append(vm.Entries, row)
	}
	return views.AccessLogPage(chrome, vm)
}

// accessLogCSVLink is the CSV export of the entries f selects.
func accessLogCSVLink(f accessLogFilters) string {
	if q := f.query().Encode(); q != "" {
		return "/access-log.csv?" + q
	}
	return "/access-log.csv"
}

// viewersShown is how many other viewers a stream's timeline lists.
const viewersShown = 10

// streamViewers is the timeline's "also viewed by" panel's data: nil (no
// panel) for roles below compliance, who do not see who else looked; an
// empty list is "nobody else".
func (s *Server) streamViewers(c echo.Context, streamID string) ([]views.StreamViewer, error) {
	id := identityOf(c)
	if s.accessLog == nil || !id.User.Role.Reaches(access.Compliance) {
		return nil, nil
	}
	vs, err := s.accessLog.Viewers(c.Request().Context(), streamID, id.User.Name, viewersShown)
	if err != nil {
		return nil, err
	}
	out := []views.StreamViewer{}
	for _, v := range vs {
		out = append(out, views.StreamViewer{User: v.UserName, Role: v.Role.String(), At: v.At,
			LogURL: "/access-log?" + url.Values{"user": {v.UserName}, "stream": {streamID}}.Encode()})
	}
	return out, nil
}
