package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

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
}

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
	fromState, _ = s.maskState(fromState)
	toState, _ = s.maskState(toState)
	r := diffResult{info: info, from: from, to: to, fromState: fromState, toState: toState, changes: s.maskChanges(info.StreamType, changes)}
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
			Version: ch.Version, EventType: ch.EventType, Actor: ch.Actor, RecordedAt: ch.RecordedAt}
	}
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
		cost := diffRowMarkup + 2*escapedLen(ch.Path) + escapedLen(eventType) + escapedLen(actor)
		if i >= maxDiffRowsPage || !b.spend(cost) {
			vm.Hidden = len(r.changes) - i
			break
		}
		row := views.DiffRow{Path: ch.Path, Op: ch.Op}
		if ch.Op != timetravel.ChangeAdd {
			row.Old, _ = b.preview(jsonText(ch.Old))
		}
		if ch.Op != timetravel.ChangeRemove {
			row.New, _ = b.preview(jsonText(ch.New))
		}
		if ch.Version > 0 {
			// A change knows its event's version, not its position: link
			// to the timeline at that version.
			row.Blame = &views.BlameVM{Version: ch.Version, EventType: eventType, Actor: actor, At: ch.RecordedAt,
				EventURL: vm.StreamURL + "?version=" + views.Itoa(ch.Version)}
		}
		vm.Rows = append(vm.Rows, row)
	}
	return views.DiffPage(chrome, vm)
}
