package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// logFilters are the /events filters, as given.
type logFilters struct {
	StreamID   string `json:"stream_id,omitempty"`
	StreamType string `json:"stream_type,omitempty"`
	eventFilters
}

// query renders the filters back as URL parameters; the live endpoint takes
// the same ones.
func (f logFilters) query() url.Values {
	v := url.Values{}
	setNonEmpty(v, "stream_id", f.StreamID)
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
}

func parseLogFilters(c echo.Context) (logFilters, error) {
	var f logFilters
	var err error
	if f.StreamID, err = queryText(c, "stream_id"); err != nil {
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
	if err := exclusive(c, "before", "after"); err != nil {
		return err
	}
	before, err := queryPosition(c, "before")
	if err != nil {
		return err
	}
	after, err := queryPosition(c, "after")
	if err != nil {
		return err
	}
	limit, err := queryLimit(c, eventstore.MaxPageSize-1)
	if err != nil {
		return err
	}
	lq := eventstore.LogQuery{
		StreamID: f.StreamID, StreamType: f.StreamType, EventType: f.EventType, Actor: f.Actor,
		CorrelationID: f.CorrelationID, From: f.From, To: f.To, Limit: limit + 1,
	}
	if after > 0 {
		lq.OldestFirst, lq.After = true, after
	} else {
		lq.Before = before
	}
	events, err := s.deps.Store.ReadLog(ctx, lq)
	if err != nil {
		return err
	}
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	if after > 0 {
		slices.Reverse(events) // shown newest first
	}
	hasNewer := before > 0 || (after > 0 && more)
	hasOlder := (after == 0 && more) || after > 0

	data := eventsJSON{Filters: f, Events: events}
	if data.Events == nil {
		data.Events = []eventstore.Event{}
	}
	vm := views.EventsVM{
		StreamID: f.StreamID, StreamType: f.StreamType, EventType: f.EventType, Actor: f.Actor, CorrelationID: f.CorrelationID,
		From: formValue(f.From), To: formValue(f.To), Filtered: f != logFilters{},
		Rows: eventRows(events, true),
	}
	link := func(key string, pos int64) string {
		q := f.query()
		if key != "" {
			q.Set(key, views.I64(pos))
		}
		if limit != pageSize {
			q.Set("limit", views.Itoa(limit))
		}
		if len(q) == 0 {
			return "/events"
		}
		return "/events?" + q.Encode()
	}
	if len(events) > 0 {
		if hasOlder {
			p := events[len(events)-1].Position
			data.Next = &p
			vm.OlderURL = link("before", p)
		}
		if hasNewer {
			p := events[0].Position
			data.Prev = &p
			vm.NewerURL = link("after", p)
			vm.NewestURL = link("", 0)
		}
	} else if before > 0 || after > 0 {
		vm.NewestURL = link("", 0)
	}
	// The live feed filters by stream, stream type and event type only: a
	// page filtered on anything else, or ending in the past, stays still
	// rather than receive events it would not list.
	if before == 0 && after == 0 && f.Actor == "" && f.CorrelationID == "" && f.To.IsZero() {
		vm.Live = true
		vm.LiveURL = "/live/events"
		if q := f.query().Encode(); q != "" {
			vm.LiveURL += "?" + q
		}
	}
	return s.render(c, http.StatusOK, data, views.EventsPage(s.chrome(c, "Events", "events"), vm))
}
