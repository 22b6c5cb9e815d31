package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// logFilters are the /events filters, as given.
type logFilters struct {
	StreamID     string `json:"stream_id,omitempty"`
	StreamPrefix string `json:"stream_id_prefix,omitempty"`
	StreamType   string `json:"stream_type,omitempty"`
	eventFilters
}

// query renders the filters back as URL parameters; the live endpoint takes
// the same ones (but for the prefix, which keeps a page still).
func (f logFilters) query() url.Values {
	v := url.Values{}
	setNonEmpty(v, "stream_id", f.StreamID)
	setNonEmpty(v, "stream_id_prefix", f.StreamPrefix)
	setNonEmpty(v, "stream_type", f.StreamType)
	f.eventFilters.addTo(v)
	return v
}

// eventsJSON is the global log's JSON shape. Next and Prev are position
// cursors: ?before=<next> is the following (older) page, ?after=<prev> the
// preceding (newer) one; null at either end.
type eventsJSON struct {
	Filters logFilters         `json:"filters"`
	Events  []eventstore.Event `json:"events"`
	Next    *int64             `json:"next"`
	Prev    *int64             `json:"prev"`
	// NextKey and PrevKey are the cursors of a table without positions
	// (eventstore.Store.LogKey), given as ?before= and ?after=.
	NextKey string `json:"next_key,omitempty"`
	PrevKey string `json:"prev_key,omitempty"`
	// BytesCut: the page holds fewer events than asked, having reached
	// its byte cap; the next cursor reads on.
	BytesCut bool `json:"bytes_cut,omitempty"`
}

func parseLogFilters(c echo.Context) (logFilters, error) {
	var f logFilters
	var err error
	if f.StreamID, err = queryText(c, "stream_id"); err != nil {
		return f, err
	}
	if f.StreamPrefix, err = queryText(c, "stream_id_prefix"); err != nil {
		return f, err
	}
	if f.StreamType, err = queryText(c, "stream_type"); err != nil {
		return f, err
	}
	f.eventFilters, err = parseEventFilters(c)
	return f, err
}

// listEvents is the global log, newest first, filtered, keyset-paginated on
// position both ways. The newest page receives new matching events live.
func (s *Server) listEvents(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := parseLogFilters(c)
	if err != nil {
		return err
	}
	if err := s.refuseMaskedFilters(f.StreamType, f.eventFilters); err != nil {
		return err
	}
	if err := exclusive(c, "before", "after"); err != nil {
		return err
	}
	// A table without positions pages on (time, stream, version) keys,
	// which the store reads; positions are checked here.
	var before, after int64
	var beforeKey, afterKey string
	if s.deps.Store.HasPosition() {
		if before, err = queryPosition(c, "before"); err != nil {
			return err
		}
		if after, err = queryPosition(c, "after"); err != nil {
			return err
		}
	} else {
		beforeKey, afterKey = strings.TrimSpace(c.QueryParam("before")), strings.TrimSpace(c.QueryParam("after"))
	}
	limit, err := queryLimit(c, eventstore.MaxPageSize-1)
	if err != nil {
		return err
	}
	lq := eventstore.LogQuery{
		StreamID: f.StreamID, StreamPrefix: f.StreamPrefix, StreamType: f.StreamType, EventType: f.EventType, Actor: f.Actor,
		CorrelationID: f.CorrelationID, From: f.From, To: f.To, Limit: limit + 1,
	}
	if after > 0 || afterKey != "" {
		lq.OldestFirst, lq.After, lq.AfterKey = true, after, afterKey
	} else {
		lq.Before, lq.BeforeKey = before, beforeKey
	}
	forward, paged := lq.OldestFirst, before > 0 || after > 0 || beforeKey != "" || afterKey != ""
	events, err := s.deps.Store.ReadLog(ctx, lq)
	if err != nil {
		return err
	}
	s.maskEvents(events)
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	events, bytesCut := byteCapped(events)
	more = more || bytesCut
	if forward {
		slices.Reverse(events) // shown newest first
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindSearch, Filters: searchFilters(c)}); err != nil {
		return err
	}
	r := eventsResult{filters: f, events: events, limit: limit, paged: paged, bytesCut: bytesCut, keyOf: s.deps.Store.LogKey,
		hasNewer: (paged && !forward) || (forward && more), hasOlder: (!forward && more) || forward}
	if !wantsJSON(c) {
		if r.types, err = s.typeLists(ctx); err != nil {
			return err
		}
	}
	return s.renderResult(c, http.StatusOK, "Events", "events", r)
}

// eventsResult is what the global log computed: one page of events, newest
// first, and whether pages lie either side of it. paged: a cursor was
// given (this is not the newest page).
type eventsResult struct {
	filters            logFilters
	events             []eventstore.Event
	limit              int
	paged              bool
	hasNewer, hasOlder bool
	bytesCut           bool // fewer events than limit: they reached maxPageEventBytes
	// keyOf is an event's cursor in the log: its position, or its
	// (time, stream, version) key on a table without positions.
	keyOf func(*eventstore.Event) string
	types views.TypeLists // the pick lists (HTML only)
}

func (r eventsResult) toJSON() any {
	data := eventsJSON{Filters: r.filters, Events: r.events, BytesCut: r.bytesCut}
	if data.Events == nil {
		data.Events = []eventstore.Event{}
	}
	if n := len(r.events); n > 0 {
		keyed := r.events[0].Position == 0
		if r.hasOlder {
			data.Next = &r.events[n-1].Position
			if keyed {
				data.Next, data.NextKey = nil, r.keyOf(&r.events[n-1])
			}
		}
		if r.hasNewer {
			data.Prev = &r.events[0].Position
			if keyed {
				data.Prev, data.PrevKey = nil, r.keyOf(&r.events[0])
			}
		}
	}
	return data
}

// link is this log's URL with the same filters and limit, at a cursor
// (key "" for the newest page).
func (r eventsResult) link(key string, cursor string) string {
	q := r.filters.query()
	if key != "" {
		q.Set(key, cursor)
	}
	if r.limit != pageSize {
		q.Set("limit", views.Itoa(r.limit))
	}
	if len(q) == 0 {
		return "/events"
	}
	return "/events?" + q.Encode()
}

func (r eventsResult) toView(chrome views.Chrome) templ.Component {
	f, events := r.filters, r.events
	vm := views.EventsVM{
		StreamID: f.StreamID, StreamPrefix: f.StreamPrefix, StreamType: f.StreamType, EventType: f.EventType, Actor: f.Actor, CorrelationID: f.CorrelationID,
		From: formValue(f.From), To: formValue(f.To), Filtered: f != logFilters{},
		Rows: eventRows(events, true, rowBudget(chrome, maxPreview)), Types: r.types,
	}
	if r.bytesCut {
		vm.Notice = byteCapNotice(len(events))
	}
	if len(events) > 0 {
		if r.hasOlder {
			vm.OlderURL = r.link("before", r.keyOf(&events[len(events)-1]))
		}
		if r.hasNewer {
			vm.NewerURL = r.link("after", r.keyOf(&events[0]))
			vm.NewestURL = r.link("", "")
		}
	} else if r.paged {
		vm.NewestURL = r.link("", "")
	}
	// The live feed filters by stream, stream type and event type only: a
	// page filtered on anything else, or ending in the past, stays still
	// rather than receive events it would not list.
	if !r.paged && f.Actor == "" && f.CorrelationID == "" && f.StreamPrefix == "" && f.To.IsZero() {
		vm.Live = true
		vm.LiveURL = "/live/events"
		if q := f.query().Encode(); q != "" {
			vm.LiveURL += "?" + q
		}
	}
	return views.EventsPage(chrome, vm)
}
