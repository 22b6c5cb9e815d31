package web

import (
	"net/http"
	"sort"

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
	StreamTypes []streamTypeJSON       `json:"stream_types"`
	Counts      []eventstore.TypeCount `json:"counts"`
	Newest      []eventstore.Event     `json:"newest"`
}

type streamTypeJSON struct {
	StreamType string `json:"stream_type"`
	Streams    int64  `json:"streams"`
	Events     int64  `json:"events"`
}

// showOverview is the landing page: totals from auditd's counters (never a
// count(*) over events), the head, and the newest events.
func (s *Server) showOverview(c echo.Context) error {
	ctx := c.Request().Context()
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

	data := overviewJSON{Head: head, Counts: counts, Newest: newest}
	if data.Counts == nil {
		data.Counts = []eventstore.TypeCount{}
	}
	if data.Newest == nil {
		data.Newest = []eventstore.Event{}
	}
	byType := map[string]*streamTypeJSON{}
	eventTypes := map[string]bool{}
	for _, tc := range counts {
		data.Events += tc.Events
		data.Streams += tc.Streams
		eventTypes[tc.EventType] = true
		st := byType[tc.StreamType]
		if st == nil {
			st = &streamTypeJSON{StreamType: tc.StreamType}
			byType[tc.StreamType] = st
		}
		st.Streams += tc.Streams
		st.Events += tc.Events
	}
	data.EventTypes = len(eventTypes)
	data.StreamTypes = []streamTypeJSON{}
	for _, st := range byType {
		data.StreamTypes = append(data.StreamTypes, *st)
	}
	sort.Slice(data.StreamTypes, func(i, j int) bool { return data.StreamTypes[i].Events > data.StreamTypes[j].Events })

	vm := views.OverviewVM{
		HeadPosition: head.Position,
		HeadAt:       head.RecordedAt,
		Events:       data.Events,
		Streams:      data.Streams,
		EventTypes:   data.EventTypes,
		Newest:       eventRows(newest, true),
	}
	for _, st := range data.StreamTypes {
		vm.StreamTypes = append(vm.StreamTypes, views.TypeTotal{StreamType: st.StreamType, Streams: st.Streams, Events: st.Events})
	}
	for _, tc := range counts {
		vm.Counts = append(vm.Counts, views.TypeCount{StreamType: tc.StreamType, EventType: tc.EventType, Events: tc.Events})
	}
	return s.render(c, http.StatusOK, data, views.OverviewPage(s.chrome(c, "Overview", "overview"), vm))
}
