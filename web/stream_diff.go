package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// maxDiffRowsPage bounds the rows one diff page renders; the JSON has all.
const maxDiffRowsPage = 2000

// diffRowMarkup is what a diff row's markup costs the page's budget,
// besides its data.
const diffRowMarkup = 400

// diffChangeJSON is one changed leaf: op is add, remove or replace; old is
// null for add and new is null for remove. version and event_type name the
// last event between the two moments that touched the path.
type diffChangeJSON struct {
	Path       string    `json:"path"`
	Op         string    `json:"op"`
	Old        any       `json:"old"`
	New        any       `json:"new"`
	Version    int       `json:"version"`
	EventType  string    `json:"event_type"`
	Actor      string    `json:"actor"`
	Source     string    `json:"source"`
	RecordedAt time.Time `json:"recorded_at"`
}

// diffJSON is /streams/{id}/diff as JSON.
type diffJSON struct {
	StreamID    string           `json:"stream_id"`
	StreamType  string           `json:"stream_type"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	FromVersion int              `json:"from_version"`
	ToVersion   int              `json:"to_version"`
	Changes     []diffChangeJSON `json:"changes"`
	// Events are the events between the two moments, oldest first, at
	// most maxDiffEvents; EventsTotal counts them all.
	Events      []diffEventJSON `json:"events"`
	EventsTotal int             `json:"events_total"`
	// Cancelled are the fields that changed in between and came back to
	// where they were: no net change, so not in changes.
	Cancelled []cancelledJSON `json:"cancelled"`
	// CancelledPartial: the stream was walked only over its first
	// maxDiffWalk events in between; later cancellations are not listed.
	CancelledPartial bool `json:"cancelled_partial,omitempty"`
}

// diffEventJSON is one event between the two moments of a diff.
type diffEventJSON struct {
	Version    int       `json:"version"`
	Position   int64     `json:"position"`
	EventType  string    `json:"event_type"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      string    `json:"actor"`
	Source     string    `json:"source"`
	ref        string    // its /events/{ref} address (an event id without positions)
}

// cancelledJSON is a field whose changes in between cancelled out: the
// values it went through, first and last equal.
type cancelledJSON struct {
	Path   string `json:"path"`
	Values []any  `json:"values"`
	// Elided counts values left out of the middle of a long run.
	Elided int `json:"elided,omitempty"`
}

// Bounds on what a diff walks between its two moments: the events listed,
// the events folded to find cancelled changes, the fields and the values
// per field kept.
const (
	maxDiffEvents     = 200
	maxDiffWalk       = 5000
	maxCancelled      = 100
	maxCancelledSteps = 8
)

// showDiff is what changed in a stream between ?from and ?to (each v:N or a
// time; from defaults to before the first event, to to the latest), side by
// side, each change blamed on the last event that made it.
func (s *Server) showDiff(c echo.Context) error {
	ctx := c.Request().Context()
	info, from, to, err := s.streamWindow(c)
	if err != nil {
		return err
	}
	fromState, toState, changes, err := s.deps.TimeTravel.DiffOf(ctx, info, from.point(), to.point())
	if err != nil {
		return invalidPoint(err)
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindDiff, StreamID: info.StreamID, Window: versionWindow(fromState.Version, toState.Version), Filters: queryFilters(c)}); err != nil {
		return err
	}
	fromState, _ = s.maskState(fromState)
	toState, _ = s.maskState(toState)
	r := diffResult{info: info, from: from, to: to, fromState: fromState, toState: toState, changes: s.maskChanges(info.StreamType, changes)}
	if err := s.walkBetween(ctx, &r); err != nil {
		return err
	}
	return s.renderResult(c, http.StatusOK, "Diff of "+info.StreamID, "streams", r)
}

// streamWindow reads the stream of the path and ?from and ?to (each v:N
// or a time, in ?tz), as the diff and the evidence bundle take them: from
// defaults to before the first event, to to the latest.
func (s *Server) streamWindow(c echo.Context) (info eventstore.StreamInfo, from, to moment, err error) {
	id, err := streamIDParam(c)
	if err != nil {
		return info, from, to, err
	}
	tz := c.QueryParam("tz")
	if from, err = parseMoment("from", c.QueryParam("from"), tz); err != nil {
		return info, from, to, err
	}
	if to, err = parseMoment("to", c.QueryParam("to"), tz); err != nil {
		return info, from, to, err
	}
	if !from.hasVersion && !from.hasAt {
		from = moment{version: 0, hasVersion: true}
	}
	info, err = s.deps.Store.Stream(c.Request().Context(), id)
	return info, from, to, err
}

// diffResult is what the diff page computed: the two moments asked for,
// the states there and the changes between them.
type diffResult struct {
	info               eventstore.StreamInfo
	from, to           moment
	fromState, toState *timetravel.State
	changes            []timetravel.Change
	// What walkBetween found between the two moments.
	events           []diffEventJSON
	eventsTotal      int
	cancelled        []cancelledJSON
	cancelledPartial bool
}

// walkBetween folds the events between the diff's two moments (whichever is
// earlier first), listing them and the fields whose changes cancelled out:
// a diff that says "no differences" while the balance went 340 → −160 →
// 340 would hide exactly what an investigator looks for.
func (s *Server) walkBetween(ctx context.Context, r *diffResult) error {
	lo, hi := r.fromState, r.toState
	if lo.Version > hi.Version {
		lo, hi = hi, lo
	}
	r.eventsTotal = hi.Version - lo.Version
	r.events, r.cancelled = []diffEventJSON{}, []cancelledJSON{}
	if r.eventsTotal == 0 {
		return nil
	}
	type run struct {
		values []any // first maxCancelledSteps-1 values, then the latest
		elided int
	}
	runs := map[string]*run{}
	var order []string
	step := func(old, new any, had, has bool, path string) {
		ru, ok := runs[path]
		if !ok {
			if len(runs) >= 4*maxCancelled {
				return
			}
			ru = &run{values: []any{presentOr(old, had)}}
			runs[path] = ru
			order = append(order, path)
		}
		if len(ru.values) >= maxCancelledSteps {
			ru.values[len(ru.values)-1] = presentOr(new, has)
			ru.elided++
			return
		}
		ru.values = append(ru.values, presentOr(new, has))
	}
	through, err := s.deps.TimeTravel.Walk(ctx, r.info, lo, hi.Version, maxDiffWalk, func(ev *eventstore.Event, _ *timetravel.State, changes []timetravel.Change) bool {
		if len(r.events) < maxDiffEvents {
			// The actor may be personal data: masked as on the timeline.
			m := s.maskedEvent(ev).Meta()
			r.events = append(r.events, diffEventJSON{Version: ev.Version, Position: ev.Position, EventType: ev.EventType,
				RecordedAt: ev.RecordedAt, Actor: m.Actor, Source: m.Source, ref: ev.Ref()})
		}
		// Masked fields' runs must not spell out their values either.
		for _, ch := range s.maskChanges(r.info.StreamType, changes) {
			step(ch.Old, ch.New, ch.Op != timetravel.ChangeAdd, ch.Op != timetravel.ChangeRemove, ch.Path)
		}
		return true
	})
	if err != nil {
		return err
	}
	r.cancelledPartial = through < hi.Version
	changed := make(map[string]bool, len(r.changes))
	for _, ch := range r.changes {
		changed[ch.Path] = true
	}
	for _, path := range order {
		ru := runs[path]
		if changed[path] || len(ru.values) < 3 || len(r.cancelled) >= maxCancelled {
			continue
		}
		first, last := ru.values[0], ru.values[len(ru.values)-1]
		_, firstAbsent := first.(absentValue)
		_, lastAbsent := last.(absentValue)
		if !(firstAbsent && lastAbsent) && !timetravel.JSONEqual(first, last) {
			continue // changed and changed back past what was walked
		}
		r.cancelled = append(r.cancelled, cancelledJSON{Path: path, Values: ru.values, Elided: ru.elided})
	}
	return nil
}

// absentValue stands for a field that did not exist at a step of a run.
type absentValue struct{}

func (absentValue) MarshalJSON() ([]byte, error) { return []byte(`"(absent)"`), nil }

// presentOr is v, or absentValue when the field was not there.
func presentOr(v any, present bool) any {
	if !present {
		return absentValue{}
	}
	return v
}

func (r diffResult) toJSON() any {
	data := diffJSON{
		StreamID: r.info.StreamID, StreamType: r.info.StreamType, From: r.from.String(), To: r.to.String(),
		FromVersion: r.fromState.Version, ToVersion: r.toState.Version, Changes: make([]diffChangeJSON, len(r.changes)),
	}
	if data.To == "" {
		data.To = "latest"
	}
	for i, ch := range r.changes {
		data.Changes[i] = diffChangeJSON{Path: ch.Path, Op: ch.Op, Old: ch.Old, New: ch.New,
			Version: ch.Version, EventType: ch.EventType, Actor: ch.Actor, Source: ch.Source, RecordedAt: ch.RecordedAt}
	}
	data.Events, data.EventsTotal = r.events, r.eventsTotal
	data.Cancelled, data.CancelledPartial = r.cancelled, r.cancelledPartial
	return data
}

func (r diffResult) toView(chrome views.Chrome) templ.Component {
	info, from, to, fromState, toState := r.info, r.from, r.to, r.fromState, r.toState
	diffPath := streamPath(info.StreamID, "/diff")
	statePath := streamPath(info.StreamID, "/state")
	share := diffPath + "?from=" + url.QueryEscape(from.String())
	if to.String() != "" {
		share += "&to=" + url.QueryEscape(to.String())
	}
	vm := views.DiffVM{
		StreamID: info.StreamID, StreamType: info.StreamType, StreamURL: streamPath(info.StreamID, ""),
		From: from.String(), To: to.String(),
		FromVersion: fromState.Version, ToVersion: toState.Version, FromAt: fromState.At, ToAt: toState.At,
		FromBefore: fromState.BeforeFirstEvent(), ToBefore: toState.BeforeFirstEvent(),
		FromStateURL: statePath + "?version=" + views.Itoa(fromState.Version),
		ToStateURL:   statePath + "?version=" + views.Itoa(toState.Version),
		FormPath:     diffPath, ShareURL: share, JSONURL: share + "&format=json",
	}
	if vm.To == "" {
		vm.To = "v:" + views.Itoa(toState.Version)
	}
	if fromState.Version > toState.Version {
		vm.Notice = "From is later than to: the changes read backwards, undoing the events in between."
	}
	// Both states as JSON (folded away) get a preview each, a third of the
	// page's budget; the rows share the rest.
	b := newPageBudget(pageDataBudget / 3)
	vm.FromJSON, vm.FromJSONCut = b.preview(views.PrettyJSON(stateDocument(fromState.Data)))
	vm.ToJSON, vm.ToJSONCut = b.preview(views.PrettyJSON(stateDocument(toState.Data)))
	vm.FromJSON, vm.ToJSON = ellipsis(vm.FromJSON, vm.FromJSONCut), ellipsis(vm.ToJSON, vm.ToJSONCut)
	b.each = maxPreview
	for i, ch := range r.changes {
		// A row costs its markup, its path twice (data-path, the cell)
		// and its blame's labels.
		eventType, _ := metaText(ch.EventType)
		actor, _ := metaText(ch.Actor)
		source, _ := metaText(ch.Source)
		cost := diffRowMarkup + 2*escapedLen(ch.Path) + escapedLen(eventType) + escapedLen(actor) + escapedLen(source)
		if i >= maxDiffRowsPage || !b.spend(cost) {
			vm.Hidden = len(r.changes) - i
			break
		}
		row := views.DiffRow{Path: ch.Path, Op: ch.Op, Masked: isMask(ch.Old) || isMask(ch.New)}
		if ch.Op != timetravel.ChangeAdd {
			row.Old, _ = b.preview(jsonText(ch.Old))
		}
		if ch.Op != timetravel.ChangeRemove {
			row.New, _ = b.preview(jsonText(ch.New))
		}
		if ch.Version > 0 {
			// A change knows its event's version, not its position: link
			// to the timeline at that version.
			row.Blame = &views.BlameVM{Version: ch.Version, EventType: eventType, Actor: actor, Source: source, At: ch.RecordedAt,
				EventURL: vm.StreamURL + "?version=" + views.Itoa(ch.Version)}
		}
		vm.Rows = append(vm.Rows, row)
	}
	vm.EventsTotal, vm.CancelledPartial = r.eventsTotal, r.cancelledPartial
	for _, ev := range r.events {
		eventType, _ := metaText(ev.EventType)
		actor, _ := metaText(ev.Actor)
		source, _ := metaText(ev.Source)
		vm.Events = append(vm.Events, views.DiffEvent{Version: ev.Version, EventType: eventType, Actor: actor, Source: source,
			At: ev.RecordedAt, URL: "/events/" + ev.ref})
	}
	for _, c := range r.cancelled {
		steps := make([]string, 0, len(c.Values)+1)
		for i, v := range c.Values {
			if i == len(c.Values)-1 && c.Elided > 0 {
				steps = append(steps, "… "+views.Itoa(c.Elided)+" more …")
			}
			text := "(absent)"
			if _, absent := v.(absentValue); !absent {
				text, _ = b.preview(jsonText(v))
			}
			steps = append(steps, text)
		}
		vm.Cancelled = append(vm.Cancelled, views.CancelledVM{Path: c.Path, Steps: steps})
	}
	return views.DiffPage(chrome, vm)
}
