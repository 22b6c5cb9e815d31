package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pii"
	"github.com/auditd/auditd/internal/timetravel"
	"github.com/auditd/auditd/views"
)

// Bounds on one page of a field's history: the events folded and the
// points kept. A 100,000-event stream is read a page at a time, each page
// starting from the snapshot before it.
const (
	maxFieldEvents = 10000
	maxFieldPoints = 500
)

// fieldPointJSON is one value a field took. value is null and removed true
// when the event removed the field; carried marks a page's first point,
// the value the field already had where the page starts.
type fieldPointJSON struct {
	Version    int       `json:"version"`
	RecordedAt time.Time `json:"recorded_at"`
	Value      any       `json:"value"`
	Removed    bool      `json:"removed,omitempty"`
	EventType  string    `json:"event_type"`
	Actor      string    `json:"actor"`
	Source     string    `json:"source"`
	Position   int64     `json:"position"`
	Carried    bool      `json:"carried,omitempty"`
}

// fieldHistoryJSON is /streams/{id}/fields as JSON: one page of the
// field's history, versions (from_version, through_version]; next is the
// next page's URL while the stream goes on.
type fieldHistoryJSON struct {
	StreamID       string           `json:"stream_id"`
	Path           string           `json:"path"`
	Points         []fieldPointJSON `json:"points"`
	FromVersion    int              `json:"from_version"`
	ThroughVersion int              `json:"through_version"`
	HeadVersion    int              `json:"head_version"`
	Next           string           `json:"next,omitempty"`
}

// showFieldHistory is every value one field of a stream's state took
// (?path=/balance), with the event, actor and source of each, as a table
// and a step chart. ?after=N starts the page after version N.
func (s *Server) showFieldHistory(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	path := c.QueryParam("path")
	if strings.TrimSpace(path) == "" {
		return badRequest("path", "empty: name a field of the state as a JSON pointer, like /balance")
	}
	if _, err := timetravel.ParsePointer(path); err != nil || path == "" {
		return badRequest("path", "%q is not a JSON pointer to a field, like /balance or /owner/name", path)
	}
	after, err := queryInt(c, "after")
	if err != nil {
		return err
	}
	info, err := s.deps.Store.Stream(ctx, id)
	if err != nil {
		return err
	}
	h, err := s.deps.TimeTravel.FieldHistoryOf(ctx, info, path, after, maxFieldEvents, maxFieldPoints)
	if errors.Is(err, timetravel.ErrInvalidField) {
		return badRequest("path", "%v", err)
	}
	if err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindFields, StreamID: id, Window: versionWindow(h.From+1, h.Through), Filters: queryFilters(c)}); err != nil {
		return err
	}
	s.maskFieldHistory(info.StreamType, h)
	title := "History of " + path + " in " + info.StreamID
	return s.renderResult(c, http.StatusOK, title, "streams", fieldHistoryResult{info: info, history: h})
}

// fieldHistoryResult is what the field history page computed.
type fieldHistoryResult struct {
	info    eventstore.StreamInfo
	history *timetravel.FieldHistory
}

// nextURL is the next page's URL, empty at the end of the stream.
func (r fieldHistoryResult) nextURL() string {
	if !r.history.More {
		return ""
	}
	return streamPath(r.info.StreamID, "/fields") + "?path=" + views.QueryEscape(r.history.Path) + "&after=" + strconv.Itoa(r.history.Through)
}

func (r fieldHistoryResult) toJSON() any {
	h := r.history
	data := fieldHistoryJSON{StreamID: r.info.StreamID, Path: h.Path, Points: make([]fieldPointJSON, len(h.Points)),
		FromVersion: h.From, ThroughVersion: h.Through, HeadVersion: r.info.Version, Next: r.nextURL()}
	for i, p := range h.Points {
		data.Points[i] = fieldPointJSON{Version: p.Version, RecordedAt: p.RecordedAt, Value: p.Value, Removed: !p.Present,
			EventType: p.EventType, Actor: p.Actor, Source: p.Source, Position: p.Position, Carried: p.Carried}
	}
	return data
}

func (r fieldHistoryResult) toView(chrome views.Chrome) templ.Component {
	h := r.history
	self := streamPath(r.info.StreamID, "/fields") + "?path=" + views.QueryEscape(h.Path)
	if h.From > 0 {
		self += "&after=" + strconv.Itoa(h.From)
	}
	vm := views.FieldHistoryVM{
		StreamID: r.info.StreamID, StreamType: r.info.StreamType, StreamURL: streamPath(r.info.StreamID, ""),
		StateURL: streamPath(r.info.StreamID, "/state"), Path: h.Path, From: h.From, Through: h.Through,
		HeadVersion: r.info.Version, NextURL: r.nextURL(), JSONURL: self + "&format=json",
	}
	if h.From > 0 {
		vm.FirstURL = streamPath(r.info.StreamID, "/fields") + "?path=" + views.QueryEscape(h.Path)
	}
	b := newPageBudget(maxPreview)
	for _, p := range h.Points {
		row := views.FieldPointVM{Version: p.Version, At: p.RecordedAt, Removed: !p.Present, Carried: p.Carried}
		row.EventType, _ = metaText(p.EventType)
		row.Actor, _ = metaText(p.Actor)
		row.Source, _ = metaText(p.Source)
		if p.Present {
			var cut bool
			row.Value, cut = b.preview(jsonText(p.Value))
			row.Value = ellipsis(row.Value, cut)
		}
		if p.Position > 0 {
			row.EventURL = "/events/" + strconv.FormatInt(p.Position, 10)
		} else {
			// A table without positions: the timeline at the version.
			row.EventURL = vm.StreamURL + "?version=" + strconv.Itoa(p.Version)
		}
		vm.Points = append(vm.Points, row)
	}
	vm.Chart = stepChart(h)
	return views.FieldHistoryPage(chrome, vm)
}

// The step chart's drawing area, in SVG user units (the SVG scales to the
// page's width).
const (
	chartWidth   = 960
	chartHeight  = 240
	chartLeft    = 72 // room for the value labels
	chartRight   = 16
	chartTop     = 16
	chartBottom  = 32 // room for the time labels
	chartMaxDots = 200
)

// stepChart draws the numeric values of a field's history as a step chart
// over time: a value holds until the next event changes it. nil when fewer
// than one point is a number (a text field has no chart, only its table).
func stepChart(h *timetravel.FieldHistory) *views.StepChart {
	type pt struct {
		t time.Time
		v float64
		p timetravel.FieldPoint
	}
	var pts []pt
	for _, p := range h.Points {
		if !p.Present {
			continue
		}
		v, ok := chartNumber(p.Value)
		if !ok {
			continue
		}
		pts = append(pts, pt{p.RecordedAt, v, p})
	}
	if len(pts) == 0 {
		return nil
	}
	t0, t1 := pts[0].t, pts[len(pts)-1].t
	vmin, vmax := pts[0].v, pts[0].v
	for _, p := range pts {
		vmin, vmax = math.Min(vmin, p.v), math.Max(vmax, p.v)
	}
	lo, hi := vmin, vmax
	if lo > 0 && hi > 0 {
		lo = 0 // a balance reads against zero
	}
	if hi < 0 {
		hi = 0
	}
	if hi == lo {
		hi = lo + 1
	}
	span := t1.Sub(t0)
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return chartLeft + plotW/2
		}
		return chartLeft + plotW*float64(t.Sub(t0))/float64(span)
	}
	y := func(v float64) float64 { return chartTop + plotH*(hi-v)/(hi-lo) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

	var d strings.Builder
	ch := &views.StepChart{Width: chartWidth, Height: chartHeight,
		Title: pointerName(h.Path) + " over time",
		YTop:  formatChartNumber(hi), YBottom: formatChartNumber(lo),
		XStart: views.UTC(t0), XEnd: views.UTC(t1),
		Left: chartLeft, Right: chartWidth - chartRight, Top: chartTop, Bottom: chartHeight - chartBottom,
		ZeroY: f(y(0)),
	}
	for i, p := range pts {
		px, py := x(p.t), y(p.v)
		if i == 0 {
			d.WriteString("M" + f(px) + " " + f(py))
		} else {
			d.WriteString(" H" + f(px) + " V" + f(py))
		}
		if len(pts) <= chartMaxDots {
			ch.Dots = append(ch.Dots, views.ChartDot{X: f(px), Y: f(py),
				Label: "v" + strconv.Itoa(p.p.Version) + " " + p.p.EventType + ": " + jsonText(p.p.Value)})
		}
	}
	if span > 0 {
		d.WriteString(" H" + f(chartLeft+plotW))
	}
	ch.Path = d.String()
	first, last := pts[0], pts[len(pts)-1]
	ch.Desc = "Step chart of " + strconv.Itoa(len(pts)) + " values of " + h.Path + " from " + views.UTC(t0) + " to " + views.UTC(t1) +
		": from " + jsonText(first.p.Value) + " to " + jsonText(last.p.Value) + ", lowest " + formatChartNumber(vmin) + ", highest " + formatChartNumber(vmax) + "."
	return ch
}

// chartNumber is a field value as a number to plot: a JSON number, or a
// string holding one (amounts are often strings such as "12.50").
func chartNumber(v any) (float64, bool) {
	var text string
	switch x := v.(type) {
	case string:
		text = strings.TrimSpace(x)
	default:
		text = jsonText(v)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// formatChartNumber is an axis label: at most two decimals, no exponent.
func formatChartNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// pointerName is the last token of a pointer, for a chart's title
// ("balance" of /balance).
func pointerName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 && i < len(path)-1 {
		if name, err := timetravel.UnescapeToken(path[i+1:]); err == nil {
			return name
		}
	}
	return path
}

// maskFieldHistory masks the values of a masked field (or the masked
// fields inside it) and a masked actor, as the state panel does: the
// history of /owner must not spell out every owner the wallet had.
func (s *Server) maskFieldHistory(streamType string, h *timetravel.FieldHistory) {
	if s.deps.PII.Empty() {
		return
	}
	actor := s.actorMasked(streamType)
	for i := range h.Points {
		p := &h.Points[i]
		_, p.Value, _ = s.deps.PII.MaskChange(streamType, h.Path, nil, p.Value)
		if actor && p.Actor != "" {
			p.Actor = pii.Mask
		}
	}
}
