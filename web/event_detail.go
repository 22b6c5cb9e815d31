package web

import (
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// eventDetailJSON is one event's JSON shape.
type eventDetailJSON struct {
	timelineEvent
	Causes              []eventstore.CausedEvent `json:"causes"`
	Effects             []eventstore.CausedEvent `json:"effects"`
	Correlated          []eventstore.Event       `json:"correlated"`
	CorrelatedTruncated bool                     `json:"correlated_truncated"`
	// Masked are the pointers masked in its payload and metadata.
	Masked *pii.Masked `json:"masked,omitempty"`
}

// showEvent is one event: payload (stored and upcast), metadata, what it
// changed, its causation chain up to the root and down to its effects
// (bounded), and the events sharing its correlation id across streams.
// /events/<event_id> redirects to /events/<position>.
func (s *Server) showEvent(c echo.Context) error {
	ctx := c.Request().Context()
	ref := c.Param("position")
	ev, canonical, err := s.eventByRef(c)
	if err != nil {
		return err
	}
	if canonical != ref {
		// An event id where the event has a position: one URL per event.
		return c.Redirect(http.StatusSeeOther, "/events/"+canonical)
	}
	causes, err := s.deps.Store.Causes(ctx, &ev, 0)
	if err != nil {
		return err
	}
	effects, err := s.deps.Store.Effects(ctx, &ev, 0)
	if err != nil {
		return err
	}
	var correlated []eventstore.Event
	if id := ev.Meta().CorrelationID; id != "" {
		if correlated, err = s.deps.Store.Correlated(ctx, id, 0); err != nil {
			return err
		}
	}
	truncated := len(correlated) > eventstore.MaxCorrelated
	if truncated {
		correlated = correlated[:eventstore.MaxCorrelated]
	}

	// A row of an application's table without a stream id (flagged in
	// ev.Problems) belongs to no stream: it is shown unfolded.
	var st *timetravel.State
	if ev.StreamID != "" {
		info, err := s.deps.Store.Stream(ctx, ev.StreamID)
		if err != nil {
			return err
		}
		if st, err = s.stateAfter(ctx, info, ev.Version-1); err != nil {
			return err
		}
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindEvent, StreamID: ev.StreamID, EventKey: ev.Ref(), Window: versionWindow(ev.Version, ev.Version)}); err != nil {
		return err
	}
	steps := s.eventSteps(st, []eventstore.Event{ev})
	if err := s.markBackdated(ctx, ev.StreamID, steps); err != nil {
		return err
	}
	r := eventDetailResult{step: steps[0],
		causes: causes, effects: effects, correlated: correlated, truncated: truncated,
		marks: placeholdersFor(c, ev.StreamID)}
	s.maskDetail(&r)
	return s.renderResult(c, http.StatusOK, "Event "+eventRow(&ev, false, noBudget()).Label(), "events", r)
}

// eventByRef reads the event /events/{key} names (a position, or an event
// id of the event id column's type) and its canonical key; a key that can
// be no event's is a 400.
func (s *Server) eventByRef(c echo.Context) (eventstore.Event, string, error) {
	ref := c.Param("position")
	ev, canonical, err := s.deps.Store.EventByRef(c.Request().Context(), ref)
	if errors.Is(err, eventstore.ErrInvalidEventRef) {
		return ev, "", badRequest("position", "%q is not an event position (a positive whole number) or event id", ref)
	}
	return ev, canonical, err
}

// eventDetailResult is what the event page computed: the event folded on
// its stream, its causation chain both ways and its correlated events
// (truncated: more than eventstore.MaxCorrelated).
type eventDetailResult struct {
	step            eventStep
	causes, effects []eventstore.CausedEvent
	correlated      []eventstore.Event
	truncated       bool
	masked          pii.Masked   // the event's masked pointers
	marks           placeholders // their placeholders
}

func (r eventDetailResult) toJSON() any {
	data := eventDetailJSON{timelineEvent: stepJSON(r.step), Causes: r.causes, Effects: r.effects,
		Correlated: r.correlated, CorrelatedTruncated: r.truncated}
	if data.Correlated == nil {
		data.Correlated = []eventstore.Event{}
	}
	if r.masked.Any() {
		data.Masked = &r.masked
	}
	return data
}

func (r eventDetailResult) toView(chrome views.Chrome) templ.Component {
	ev := r.step.event
	vm := views.EventDetailVM{Row: stepRow(r.step, true, rowBudget(chrome, maxDetailPreview), maxDetailChanges), EventID: ev.EventID, CorrelatedTruncated: r.truncated}
	vm.CorrelationID = vm.Row.CorrelationID
	if ev.Meta().CorrelationID == pii.Mask {
		vm.CorrelationID = views.MaskText // a placeholder, and no search by it
	}
	vm.Row.ShowStream = true
	vm.Row.Expanded = true // the page is about this event: show its payload
	vm.Masked = append(r.marks.masks(eventScope(ev.Ref(), pii.PartPayload), r.masked.Payload),
		r.marks.masks(eventScope(ev.Ref(), pii.PartMetadata), r.masked.Metadata)...)
	for i := len(r.causes) - 1; i >= 0; i-- {
		vm.Causes = append(vm.Causes, chainItem(&r.causes[i].Event, r.causes[i].Depth, false))
	}
	for i := range r.effects {
		vm.Effects = append(vm.Effects, chainItem(&r.effects[i].Event, r.effects[i].Depth, false))
	}
	streams := map[string]bool{}
	for i := range r.correlated {
		streams[r.correlated[i].StreamID] = true
		vm.Correlated = append(vm.Correlated, chainItem(&r.correlated[i], 0, r.correlated[i].Position == ev.Position))
	}
	vm.CorrelatedStreams = len(streams)
	return views.EventDetailPage(chrome, vm)
}

func chainItem(e *eventstore.Event, depth int, self bool) views.ChainItem {
	r := eventRow(e, true, noBudget())
	return views.ChainItem{
		Position: e.Position, Ref: e.Ref(), StreamID: e.StreamID, StreamType: e.StreamType, Version: e.Version,
		EventType: e.EventType, Actor: r.Actor, Source: r.Source, RecordedAt: e.RecordedAt, Depth: depth, Self: self,
	}
}
