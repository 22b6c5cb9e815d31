package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// streamFilters are the /streams search parameters, as given.
type streamFilters struct {
	Match      string `json:"q,omitempty"` // any part of the id, any case
	StreamType string `json:"type,omitempty"`
	eventFilters
}

// query renders the filters back as URL parameters (cursors are added by
// the caller).
func (f streamFilters) query() url.Values {
	v := url.Values{}
	setNonEmpty(v, "q", f.Match)
	setNonEmpty(v, "type", f.StreamType)
	f.eventFilters.addTo(v)
	return v
}

// streamsJSON is the /streams JSON shape.
type streamsJSON struct {
	Filters streamFilters           `json:"filters"`
	Streams []eventstore.StreamInfo `json:"streams"`
	Next    *string                 `json:"next"`
	Prev    *string                 `json:"prev"`
	Partial bool                    `json:"partial"`
}

func parseStreamFilters(c echo.Context) (streamFilters, error) {
	var f streamFilters
	var err error
	if f.Match, err = queryText(c, "q"); err != nil {
		return f, err
	}
	if f.StreamType, err = queryText(c, "type"); err != nil {
		return f, err
	}
	f.eventFilters, err = parseEventFilters(c)
	return f, err
}

// listStreams searches streams: by any part of the id, in any case (the
// stream catalogue), and type, by event type, actor, correlation id and time range through the
// events (eventstore.SearchStreams keeps both bounded). The quick search in
// the header posts q here: an exact stream id goes straight to its timeline.
func (s *Server) listStreams(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := parseStreamFilters(c)
	if err != nil {
		return err
	}
	if err := s.refuseMaskedFilters(f.StreamType, f.eventFilters); err != nil {
		return err
	}
	if err := exclusive(c, "after", "before"); err != nil {
		return err
	}
	after, err := queryText(c, "after")
	if err != nil {
		return err
	}
	before, err := queryText(c, "before")
	if err != nil {
		return err
	}
	limit, err := queryLimit(c, eventstore.MaxPageSize)
	if err != nil {
		return err
	}

	onlyMatch := f == streamFilters{Match: f.Match}
	if f.Match != "" && onlyMatch && after == "" && before == "" && !wantsJSON(c) {
		if _, err := s.deps.Store.Stream(ctx, f.Match); err == nil {
			return c.Redirect(http.StatusSeeOther, "/streams/"+url.PathEscape(f.Match))
		} else if !errors.Is(err, eventstore.ErrStreamNotFound) {
			return err
		}
	}

	page, err := s.deps.Store.SearchStreams(ctx, eventstore.StreamSearch{
		Match: f.Match, StreamType: f.StreamType, EventType: f.EventType, Actor: f.Actor,
		CorrelationID: f.CorrelationID, From: f.From, To: f.To,
		After: after, Before: before, Limit: limit,
	})
	if err != nil {
		return err
	}

	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindSearch, Filters: searchFilters(c)}); err != nil {
		return err
	}
	r := streamsResult{filters: f, page: page, limit: limit, paged: after != "" || before != ""}
	if !wantsJSON(c) {
		if r.types, err = s.typeLists(ctx); err != nil {
			return err
		}
	}
	return s.renderResult(c, http.StatusOK, "Streams", "streams", r)
}

// streamsResult is what the stream search computed: one page of matching
// streams. paged: a cursor was given (this is not the first page).
type streamsResult struct {
	filters streamFilters
	page    eventstore.StreamPage
	limit   int
	paged   bool
	types   views.TypeLists // the pick lists (HTML only)
}

func (r streamsResult) toJSON() any {
	data := streamsJSON{Filters: r.filters, Streams: r.page.Streams, Partial: r.page.Partial}
	if r.page.Next != "" {
		data.Next = &r.page.Next
	}
	if r.page.Prev != "" {
		data.Prev = &r.page.Prev
	}
	return data
}

// link is this search's URL with the same filters and limit at a cursor.
func (r streamsResult) link(key, cursor string) string {
	q := r.filters.query()
	q.Set(key, cursor)
	if r.limit != pageSize {
		q.Set("limit", views.Itoa(r.limit))
	}
	return "/streams?" + q.Encode()
}

func (r streamsResult) toView(chrome views.Chrome) templ.Component {
	f, page := r.filters, r.page
	vm := views.StreamsVM{
		Q: f.Match, Type: f.StreamType, EventType: f.EventType, Actor: f.Actor, CorrelationID: f.CorrelationID,
		From: formValue(f.From), To: formValue(f.To), Partial: page.Partial,
		Filtered: f != streamFilters{}, Types: r.types,
	}
	if page.Next != "" {
		vm.NextURL = r.link("after", page.Next)
	}
	if page.Prev != "" {
		vm.PrevURL = r.link("before", page.Prev)
	}
	if r.paged {
		vm.FirstURL = "/streams"
		if q := f.query().Encode(); q != "" {
			vm.FirstURL += "?" + q
		}
	}
	for _, si := range page.Streams {
		vm.Rows = append(vm.Rows, views.StreamListRow{
			StreamID: si.StreamID, StreamType: si.StreamType, Version: si.Version,
			FirstAt: si.FirstAt, LastAt: si.LastAt, LastType: si.LastType,
		})
	}
	return views.StreamsPage(chrome, vm)
}

// formValue renders a time for a datetime-local input (UTC).
func formValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.UTC().Format("2006-01-02T15:04:05")
	}
	return t.UTC().Format("2006-01-02T15:04")
}

// typeLists are the stream and event types that exist, most events first,
// for the filters' pick lists: from the counts (auditd's counter tables; on
// a mapped source, one aggregate over its table).
func (s *Server) typeLists(ctx context.Context) (views.TypeLists, error) {
	counts, err := s.deps.Store.Counts(ctx)
	if err != nil {
		return views.TypeLists{}, err
	}
	var t views.TypeLists
	seenStream, seenEvent := map[string]bool{}, map[string]bool{}
	for _, c := range counts {
		if !seenStream[c.StreamType] {
			seenStream[c.StreamType] = true
			t.StreamTypes = append(t.StreamTypes, c.StreamType)
		}
		if !seenEvent[c.EventType] {
			seenEvent[c.EventType] = true
			t.EventTypes = append(t.EventTypes, c.EventType)
		}
	}
	return t, nil
}
