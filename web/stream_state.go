package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// Bounds on what one page renders of a state; the JSON always has it all.
const (
	maxStateRowsPage     = 2000
	maxStateRowsFragment = 400
	// stateRowMarkup is what a state row's markup costs the page's budget,
	// besides its data.
	stateRowMarkup = 400
)

// moment is a point of a stream as pages name it: a version (0 is before
// the first event), a time, or neither (the latest).
type moment struct {
	version    int
	hasVersion bool
	at         time.Time
	// hasAt: a time was given. The zero time (0001-01-01T00:00:00Z) is a
	// time like any other, not "no time".
	hasAt bool
}

// String is the moment as the diff form writes it.
func (m moment) String() string {
	switch {
	case m.hasVersion:
		return "v:" + strconv.Itoa(m.version)
	case m.hasAt:
		return m.at.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// parseMoment reads "v:N" (or a bare N) as a version and anything else as a
// time (RFC 3339, or a date-time in the zone tz); "" is the zero moment.
func parseMoment(param, value, tz string) (moment, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return moment{}, nil
	}
	digits := value
	if len(value) > 2 && (value[:2] == "v:" || value[:2] == "V:") {
		digits = value[2:]
	}
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.Atoi(digits)
		if err != nil {
			return moment{}, badRequest(param, "%q is not a version", value)
		}
		return moment{version: n, hasVersion: true}, nil
	}
	if strings.HasPrefix(value, "v:") || strings.HasPrefix(value, "V:") {
		return moment{}, badRequest(param, "%q is not a version: write v: and a whole number, like v:12", value)
	}
	t, err := parseTime(value, tz)
	if err != nil {
		return moment{}, timeParamError(param, err, "%q is neither a version (v:12) nor a time: %s", value, timeFormatsHelp)
	}
	return moment{at: t, hasAt: true}, nil
}

// point is the moment as the time-travel service names it.
func (m moment) point() timetravel.Point {
	switch {
	case m.hasVersion:
		return timetravel.AtVersion(m.version)
	case m.hasAt:
		return timetravel.AtTime(m.at)
	}
	return timetravel.Latest()
}

// stateAt is the stream's state at m.
func (s *Server) stateAt(ctx context.Context, info eventstore.StreamInfo, m moment) (*timetravel.State, error) {
	st, err := s.deps.TimeTravel.StateOf(ctx, info, m.point())
	return st, invalidPoint(err)
}

// invalidPoint answers a point the service refuses as bad input.
func invalidPoint(err error) error {
	if errors.Is(err, timetravel.ErrInvalidPoint) {
		return badRequest("version", "%v", err)
	}
	return err
}

// blameJSON is who last set a leaf.
type blameJSON struct {
	Version    int       `json:"version"`
	EventType  string    `json:"event_type"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      string    `json:"actor"`
	Source     string    `json:"source"`
	Position   int64     `json:"position"`
}

func blameOf(b timetravel.Blame) blameJSON {
	return blameJSON{Version: b.Version, EventType: b.EventType, RecordedAt: b.RecordedAt, Actor: b.Actor, Source: b.Source, Position: b.Position}
}

// stateJSON is /streams/{id}/state as JSON.
type stateJSON struct {
	StreamID    string `json:"stream_id"`
	StreamType  string `json:"stream_type"`
	Version     int    `json:"version"`
	HeadVersion int    `json:"head_version"`
	// At is the time asked for, or for a version the recorded_at of the
	// event at that version; null for version 0.
	At *time.Time `json:"at"`
	// EventAt is the recorded_at of the last event folded (null before
	// the first event).
	EventAt *time.Time `json:"event_at"`
	// BeforeFirstEvent: the moment precedes the stream's first event and
	// the state is empty.
	BeforeFirstEvent bool                   `json:"before_first_event"`
	State            map[string]any         `json:"state"`
	Blame            map[string]blameJSON   `json:"blame"`
	Errors           []timetravel.FoldError `json:"errors"`
	DroppedErrors    int                    `json:"dropped_errors,omitempty"`
	Notice           string                 `json:"notice,omitempty"`
	// Masked are the pointers of the state's masked values.
	Masked []string `json:"masked,omitempty"`
}

// showState is a stream's state at ?version=N or ?at=<time> (the latest
// without either), with the event that last set each field. htmx requests
// get the timeline's state panel fragment.
func (s *Server) showState(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	if err := exclusive(c, "version", "at"); err != nil {
		return err
	}
	var m moment
	if strings.TrimSpace(c.QueryParam("version")) != "" {
		v, err := queryInt(c, "version")
		if err != nil {
			return err
		}
		m = moment{version: v, hasVersion: true}
	}
	if m.at, err = queryTime(c, "at"); err != nil {
		return err
	}
	m.hasAt = strings.TrimSpace(c.QueryParam("at")) != ""
	info, err := s.deps.Store.Stream(ctx, id)
	if err != nil {
		return err
	}
	st, err := s.stateAt(ctx, info, m)
	if err != nil {
		return err
	}

	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindState, StreamID: id, Window: momentWindow(m, st.Version), Filters: queryFilters(c)}); err != nil {
		return err
	}
	r := stateResult{info: info, moment: m, state: st, fragment: isHTMX(c), marks: placeholdersFor(c, info.StreamID)}
	r.state, r.masked = s.maskState(st)
	c.Response().Header().Add("Vary", "HX-Request")
	return s.renderResult(c, http.StatusOK, "State of "+info.StreamID, "streams", r)
}

// stateResult is what the state page computed: the stream, the moment
// asked for and the state there. fragment: htmx asked for the timeline's
// state panel rather than the page.
type stateResult struct {
	info     eventstore.StreamInfo
	moment   moment
	state    *timetravel.State
	fragment bool
	masked   []string     // the state's masked pointers
	marks    placeholders // their placeholders
}

// notice explains a version past the head.
func (r stateResult) notice() string {
	if m := r.moment; m.hasVersion && m.version > r.info.Version {
		return fmt.Sprintf("Version %d is past the stream's last version %d: this is the latest state.", m.version, r.info.Version)
	}
	return ""
}

func (r stateResult) toJSON() any {
	info, st, m := r.info, r.state, r.moment
	data := stateJSON{
		StreamID: info.StreamID, StreamType: info.StreamType, Version: st.Version, HeadVersion: info.Version,
		BeforeFirstEvent: st.BeforeFirstEvent(), State: st.Data, Blame: make(map[string]blameJSON, len(st.Blame)),
		Errors: st.Errors, DroppedErrors: st.DroppedErrors, Notice: r.notice(), Masked: r.masked,
	}
	if data.Errors == nil {
		data.Errors = []timetravel.FoldError{}
	}
	for p, b := range st.Blame {
		data.Blame[p] = blameOf(b)
	}
	if !st.At.IsZero() {
		t := st.At
		data.EventAt, data.At = &t, &t
	}
	if m.hasAt {
		t := m.at
		data.At = &t
	}
	return data
}

func (r stateResult) toView(chrome views.Chrome) templ.Component {
	b := newPageBudget(maxDetailPreview)
	vm := stateVM(r.info, r.state, r.moment)
	vm.Notice = r.notice()
	if r.fragment {
		vm.Rows, vm.Hidden = stateRows(r.state, maxStateRowsFragment, b)
		r.marks.rows(vm.Rows, r.masked, stateScope(r.state.Version))
		return views.StateFragment(vm)
	}
	// The page shows the JSON too (folded away): a preview of it first,
	// then the rows within what is left.
	vm.JSON, vm.JSONCut = b.preview(views.PrettyJSON(stateDocument(r.state.Data)))
	vm.JSON = ellipsis(vm.JSON, vm.JSONCut)
	vm.Rows, vm.Hidden = stateRows(r.state, maxStateRowsPage, b)
	r.marks.rows(vm.Rows, r.masked, stateScope(r.state.Version))
	return views.StatePage(chrome, vm)
}

// stateVM is everything of the state views but the rows.
func stateVM(info eventstore.StreamInfo, st *timetravel.State, m moment) views.StateVM {
	statePath := streamPath(info.StreamID, "/state")
	vm := views.StateVM{
		StreamID: info.StreamID, StreamType: info.StreamType, StreamURL: streamPath(info.StreamID, ""),
		Version: st.Version, HeadVersion: info.Version, At: st.At, RequestedAt: m.at,
		BeforeFirst: st.BeforeFirstEvent(), DroppedErrors: st.DroppedErrors,
		SelfURL:  statePath + "?version=" + views.Itoa(st.Version),
		JSONURL:  statePath + "?version=" + views.Itoa(st.Version) + "&format=json",
		FormPath: statePath, FormVersion: views.Itoa(st.Version),
	}
	if m.hasAt {
		vm.SelfURL = statePath + "?at=" + views.QueryEscape(m.at.Format(time.RFC3339Nano))
		vm.JSONURL = vm.SelfURL + "&format=json"
		vm.FormAt = formDateTime(m.at)
	} else if !st.At.IsZero() {
		vm.FormAt = formDateTime(st.At)
	}
	vm.TimelineURL = vm.StreamURL
	if st.Version > 0 {
		vm.TimelineURL += "?version=" + views.Itoa(st.Version)
		vm.PrevURL = statePath + "?version=" + views.Itoa(st.Version-1)
	}
	if st.Version < info.Version {
		vm.NextURL = statePath + "?version=" + views.Itoa(st.Version+1)
		vm.DiffURL = streamPath(info.StreamID, "/diff") + "?from=v:" + views.Itoa(st.Version) + "&to=v:" + views.Itoa(info.Version)
	}
	for _, fe := range st.Errors {
		vm.Errors = append(vm.Errors, views.FoldErrorVM{
			Version: fe.Version, EventType: fe.EventType, Where: foldErrorWhere(fe), Message: fe.Message,
			URL: vm.StreamURL + "?version=" + views.Itoa(fe.Version),
		})
	}
	return vm
}

// foldErrorWhere names the rule, upcaster or stage that failed.
func foldErrorWhere(fe timetravel.FoldError) string {
	switch fe.Stage {
	case timetravel.StageRule:
		return fmt.Sprintf("rule %d (%s %s)", fe.Rule, fe.Op, fe.Path)
	case timetravel.StageUpcast:
		if fe.Op != "" {
			return fmt.Sprintf("upcaster op %d (%s %s)", fe.Rule, fe.Op, fe.Path)
		}
		return "upcaster"
	}
	return fe.Stage
}

// formDateTime is t as a datetime-local value in UTC (the page's script
// shows it in the viewer's zone).
func formDateTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000")
}

// stateDocument encodes a state for display.
func stateDocument(data map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return []byte("{}")
	}
	return buf.Bytes()
}

// stateRows flattens the state into a tree in document order (members by
// name, elements by index), at most limit rows within the page's budget b;
// hidden counts the rest.
func stateRows(st *timetravel.State, limit int, b *pageBudget) (rows []views.StateRow, hidden int) {
	var walk func(depth int, key, path string, v any)
	full := func() bool { return hidden > 0 || len(rows) >= limit }
	add := func(r views.StateRow) {
		// A row costs its markup, its path three times (data-path, title,
		// the history link) and its blame's labels twice: past what the
		// budget has left, this row and the rest are hidden.
		cost := stateRowMarkup + 3*escapedLen(r.Path)
		if r.Blame != nil {
			cost += 2 * (escapedLen(r.Blame.EventType) + escapedLen(r.Blame.Actor) + escapedLen(r.Blame.Source))
		}
		if full() || !b.spend(cost) {
			hidden++
			return
		}
		var cut bool
		if r.Key, cut = b.preview(r.Key); cut {
			r.Key += "…"
		}
		if r.Value, cut = b.preview(r.Value); cut {
			r.Value += "…"
		}
		rows = append(rows, r)
	}
	leaf := func(depth int, key, path string, v any) {
		if full() {
			hidden++
			return
		}
		r := views.StateRow{Depth: depth, Key: key, Path: path, Kind: "leaf", Value: jsonText(v)}
		if b, ok := st.Blame[path]; ok {
			r.Blame = blameVM(b)
		}
		add(r)
	}
	walk = func(depth int, key, path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				leaf(depth, key, path, x)
				return
			}
			add(views.StateRow{Depth: depth, Key: key, Path: path, Kind: "object", Size: len(x)})
			for _, k := range sortedMemberNames(x) {
				walk(depth+1, k, path+"/"+timetravel.EscapeToken(k), x[k])
			}
		case []any:
			if len(x) == 0 {
				leaf(depth, key, path, x)
				return
			}
			add(views.StateRow{Depth: depth, Key: key, Path: path, Kind: "array", Size: len(x)})
			for i, el := range x {
				walk(depth+1, "["+strconv.Itoa(i)+"]", path+"/"+strconv.Itoa(i), el)
			}
		default:
			leaf(depth, key, path, v)
		}
	}
	for _, k := range sortedMemberNames(st.Data) {
		walk(0, k, "/"+timetravel.EscapeToken(k), st.Data[k])
	}
	return rows, hidden
}

func sortedMemberNames(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// blameVM is a blame with the link to its event.
func blameVM(b timetravel.Blame) *views.BlameVM {
	// Labels repeated on every row: cut, so that a huge actor is not
	// repeated two thousand times.
	eventType, _ := metaText(b.EventType)
	actor, _ := metaText(b.Actor)
	source, _ := metaText(b.Source)
	vm := &views.BlameVM{Version: b.Version, EventType: eventType, Actor: actor, Source: source, At: b.RecordedAt}
	if b.Position > 0 {
		vm.EventURL = "/events/" + strconv.FormatInt(b.Position, 10)
	}
	return vm
}
