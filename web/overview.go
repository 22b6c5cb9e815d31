package web

import (
	"net/http"
	"sort"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// overviewJSON is the overview's JSON shape.
type overviewJSON struct {
	Head        eventstore.Head        `json:"head"`
	Events      int64                  `json:"events"`
	Streams     int64                  `json:"streams"`
	EventTypes  int                    `json:"event_types"`
	StreamTypes []streamTypeTotal      `json:"stream_types"`
	Counts      []eventstore.TypeCount `json:"counts"`
	Newest      []eventstore.Event     `json:"newest"`
}

// streamTypeTotal is one stream type's totals.
type streamTypeTotal struct {
	StreamType string `json:"stream_type"`
	Streams    int64  `json:"streams"`
	Events     int64  `json:"events"`
}

// showOverview is the landing page: totals from auditd's counters (never a
// count(*) over events), the head, and the newest events.
func (s *Server) showOverview(c echo.Context) error {
	ctx := c.Request().Context()
	frag := c.QueryParam("fragment")
	if frag != "" && frag != "body" {
		return badRequest("fragment", "%q is not a fragment of this page (want body)", frag)
	}
	head, err := s.deps.Store.Head(ctx)
	if err != nil {
		return err
	}
	counts, err := s.deps.Store.Counts(ctx)
	if err != nil {
		return err
	}
	newest, err := s.deps.Store.ReadLog(ctx, eventstore.LogQuery{Limit: 15})
	if err != nil {
		return err
	}
	s.maskEvents(newest)

	r := overviewOf(head, counts, newest)
	r.fragment = frag == "body"
	if s.deps.LiveHub != nil {
		// Any event refreshes the page (the feed's own events are not
		// shown: the fragment reads the newest from the table).
		r.liveURL = "/live/events"
	}
	if r.fragment {
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return s.renderResult(c, http.StatusOK, "Overview", "overview", r)
}

// overviewResult is what the overview computed: the head, the counters,
// their totals (overall and by stream type, most events first) and the
// newest events.
type overviewResult struct {
	head        eventstore.Head
	counts      []eventstore.TypeCount
	newest      []eventstore.Event
	events      int64
	streams     int64
	eventTypes  int
	streamTypes []streamTypeTotal
	liveURL     string // the feed that refreshes the page, "" without live
	fragment    bool   // the live body alone
}

// overviewOf totals the counters.
func overviewOf(head eventstore.Head, counts []eventstore.TypeCount, newest []eventstore.Event) overviewResult {
	r := overviewResult{head: head, counts: counts, newest: newest, streamTypes: []streamTypeTotal{}}
	byType := map[string]*streamTypeTotal{}
	eventTypes := map[string]bool{}
	for _, tc := range counts {
		r.events += tc.Events
		r.streams += tc.Streams
		eventTypes[tc.EventType] = true
		st := byType[tc.StreamType]
		if st == nil {
			st = &streamTypeTotal{StreamType: tc.StreamType}
			byType[tc.StreamType] = st
		}
		st.Streams += tc.Streams
		st.Events += tc.Events
	}
	r.eventTypes = len(eventTypes)
	for _, st := range byType {
		r.streamTypes = append(r.streamTypes, *st)
	}
	sort.Slice(r.streamTypes, func(i, j int) bool { return r.streamTypes[i].Events > r.streamTypes[j].Events })
	return r
}

func (r overviewResult) toJSON() any {
	data := overviewJSON{Head: r.head, Counts: r.counts, Newest: r.newest, Events: r.events, Streams: r.streams,
		EventTypes: r.eventTypes, StreamTypes: r.streamTypes}
	if data.Counts == nil {
		data.Counts = []eventstore.TypeCount{}
	}
	if data.Newest == nil {
		data.Newest = []eventstore.Event{}
	}
	return data
}

func (r overviewResult) toView(chrome views.Chrome) templ.Component {
	vm := views.OverviewVM{
		HeadPosition: r.head.Position,
		HeadAt:       r.head.RecordedAt,
		Events:       r.events,
		Streams:      r.streams,
		EventTypes:   r.eventTypes,
		Newest:       eventRows(r.newest, true, rowBudget(chrome, maxPreview)),
	}
	for _, st := range r.streamTypes {
		vm.StreamTypes = append(vm.StreamTypes, views.TypeTotal{StreamType: st.StreamType, Streams: st.Streams, Events: st.Events})
	}
	for _, tc := range r.counts {
		vm.Counts = append(vm.Counts, views.TypeCount{StreamType: tc.StreamType, EventType: tc.EventType, Events: tc.Events})
	}
	vm.LiveURL = r.liveURL
	if r.fragment {
		return views.OverviewBody(vm)
	}
	return views.OverviewPage(chrome, vm)
}
