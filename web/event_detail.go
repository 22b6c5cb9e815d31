package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// eventDetailJSON is one event's JSON shape.
type eventDetailJSON struct {
	timelineEvent
	Causes              []eventstore.CausedEvent `json:"causes"`
	Effects             []eventstore.CausedEvent `json:"effects"`
	Correlated          []eventstore.Event       `json:"correlated"`
	CorrelatedTruncated bool                     `json:"correlated_truncated"`
}

// showEvent is one event: payload (stored and upcast), metadata, what it
// changed, its causation chain up to the root and down to its effects
// (bounded), and the events sharing its correlation id across streams.
// /events/<event_id> redirects to /events/<position>.
func (s *Server) showEvent(c echo.Context) error {
	ctx := c.Request().Context()
	pos, eventID, err := parseEventRef(c.Param("position"))
	if err != nil {
		return err
	}
	if eventID != "" {
		ev, err := s.deps.Store.EventByID(ctx, eventID)
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/events/"+views.I64(ev.Position))
	}
	ev, err := s.deps.Store.Event(ctx, pos)
	if err != nil {
		return err
	}
	causes, err := s.deps.Store.Causes(ctx, &ev, 0)
	if err != nil {
		return err
	}
	effects, err := s.deps.Store.Effects(ctx, &ev, 0)
	if err != nil {
		return err
	}
	row := eventRow(&ev, true)
	var correlated []eventstore.Event
	if row.CorrelationID != "" {
		if correlated, err = s.deps.Store.Correlated(ctx, row.CorrelationID, 0); err != nil {
			return err
		}
	}
	truncated := len(correlated) > eventstore.MaxCorrelated
	if truncated {
		correlated = correlated[:eventstore.MaxCorrelated]
	}

	info, err := s.deps.Store.Stream(ctx, ev.StreamID)
	if err != nil {
		return err
	}
	st, err := s.stateAfter(ctx, info, ev.Version-1)
	if err != nil {
		return err
	}
	rows, tev := s.stepRows(st, []eventstore.Event{ev}, true)

	data := eventDetailJSON{timelineEvent: tev[0], Causes: causes, Effects: effects, Correlated: correlated, CorrelatedTruncated: truncated}
	if data.Correlated == nil {
		data.Correlated = []eventstore.Event{}
	}
	vm := views.EventDetailVM{Row: rows[0], EventID: ev.EventID, CorrelationID: row.CorrelationID, CorrelatedTruncated: truncated}
	vm.Row.ShowStream = true
	vm.Row.Expanded = true // the page is about this event: show its payload
	for i := len(causes) - 1; i >= 0; i-- {
		vm.Causes = append(vm.Causes, chainItem(&causes[i].Event, causes[i].Depth, false))
	}
	for i := range effects {
		vm.Effects = append(vm.Effects, chainItem(&effects[i].Event, effects[i].Depth, false))
	}
	streams := map[string]bool{}
	for i := range correlated {
		streams[correlated[i].StreamID] = true
		vm.Correlated = append(vm.Correlated, chainItem(&correlated[i], 0, correlated[i].Position == ev.Position))
	}
	vm.CorrelatedStreams = len(streams)
	return s.render(c, http.StatusOK, data, views.EventDetailPage(s.chrome(c, "Event #"+views.I64(ev.Position), "events"), vm))
}

func chainItem(e *eventstore.Event, depth int, self bool) views.ChainItem {
	r := eventRow(e, true)
	return views.ChainItem{
		Position: e.Position, StreamID: e.StreamID, StreamType: e.StreamType, Version: e.Version,
		EventType: e.EventType, Actor: r.Actor, Source: r.Source, RecordedAt: e.RecordedAt, Depth: depth, Self: self,
	}
}
