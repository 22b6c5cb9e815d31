package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/projections"
	"github.com/auditd/auditd/views"
)

// sparklineWindow and sparklineBucket: the panels show the last hour in
// one-minute buckets (60 points), whatever the sample interval.
const (
	sparklineWindow = time.Hour
	sparklineBucket = time.Minute
)

// requireProjections answers 503 when the monitor is not configured.
func (s *Server) requireProjections() error {
	if s.deps.Projections == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "projection monitoring is not enabled on this server")
	}
	return nil
}

// showProjections is GET /projections: the panels page, its live fragment
// (?fragment=panels) or the JSON of the shape.
func (s *Server) showProjections(c echo.Context) error {
	if err := s.requireProjections(); err != nil {
		return err
	}
	frag := c.QueryParam("fragment")
	if frag != "" && frag != "panels" {
		return badRequest("fragment", "%q is not a fragment of this page (want panels)", frag)
	}
	ctx := c.Request().Context()
	ov, err := s.deps.Projections.Overview(ctx)
	if err != nil {
		return err
	}
	r := projectionsResult{ov: ov, fragment: frag == "panels", liveURL: s.deps.ProjectionsLiveURL,
		poll: s.deps.ProjectionsPoll, thresholds: s.deps.Projections.Thresholds(), hasDrift: map[string]bool{}}
	if !wantsJSON(c) {
		// Only the page draws sparklines: the JSON, polled by scripts,
		// costs no history query.
		if r.history, err = s.deps.Projections.History(ctx, "", ov.At.Add(-sparklineWindow), sparklineBucket); err != nil {
			return err
		}
		for i := range ov.Projections {
			r.hasDrift[ov.Projections[i].Name] = s.hasDrift(ov.Projections[i].Name)
		}
		if r.fragment {
			// The fragment never caches: it is the live view.
			c.Response().Header().Set("Cache-Control", "no-store")
		}
	}
	return s.renderResult(c, http.StatusOK, "Projections", "projections", r)
}

// projectionsResult is what the projections page computed: the monitor's
// overview and, for the page, the last hour of history and which
// projections have a drift mapping. fragment: the live panels alone.
type projectionsResult struct {
	ov         *projections.Overview
	history    map[string][]projections.HistoryPoint
	hasDrift   map[string]bool
	thresholds projections.Thresholds
	liveURL    string
	poll       time.Duration
	fragment   bool
}

func (r projectionsResult) toJSON() any { return r.ov }

func (r projectionsResult) toView(ch views.Chrome) templ.Component {
	vm := r.viewModel()
	if r.fragment {
		return views.ProjectionPanels(vm)
	}
	// The panels list every alert already: the header keeps only the
	// banners of other features (tamper alerts).
	kept := ch.Banners[:0]
	for _, b := range ch.Banners {
		if !strings.HasPrefix(b.Href, "/projections") {
			kept = append(kept, b)
		}
	}
	ch.Banners = kept
	return views.ProjectionsPage(ch, vm)
}

// viewModel is the panels' view model, with the sparklines of the last hour.
func (r projectionsResult) viewModel() views.ProjectionsVM {
	ov, th := r.ov, r.thresholds
	vm := views.ProjectionsVM{
		HeadPosition: ov.Head.Position,
		HeadAt:       ov.Head.RecordedAt,
		SlotsError:   ov.SlotsError,
		LiveURL:      r.liveURL,
		Poll:         "1s",
		Thresholds: fmt.Sprintf("stalled after %s without progress · warn at %s positions, %s behind, %s WAL retained",
			th.StallAfter, views.Thousands(th.LagEvents), views.Seconds(th.LagSeconds), projections.Bytes(th.RetainedWAL)),
	}
	if r.poll > 0 {
		vm.Poll = fmt.Sprintf("%dms", r.poll.Milliseconds())
	}
	for i := range ov.Projections {
		name := ov.Projections[i].Name
		vm.Panels = append(vm.Panels, panel(&ov.Projections[i], ov.At, r.history[name], r.hasDrift[name], 260, 44))
	}
	for _, a := range ov.Alerts {
		vm.Alerts = append(vm.Alerts, projectionAlert(a))
	}
	for _, sl := range ov.Slots {
		p := views.SlotPanel{Name: sl.Name, Plugin: sl.Plugin, Active: sl.Active, Retained: "—", WALStatus: "—", SafeWAL: "unlimited", ConfirmedFlushLSN: "—", Warn: sl.Warn}
		if sl.ConfirmedFlushLSN != nil {
			p.ConfirmedFlushLSN = *sl.ConfirmedFlushLSN
		}
		if sl.RetainedBytes != nil {
			p.RetainedBytes = *sl.RetainedBytes
			p.Retained = projections.Bytes(*sl.RetainedBytes)
		}
		if sl.WALStatus != nil {
			p.WALStatus = *sl.WALStatus
		}
		if sl.SafeWALSize != nil {
			p.SafeWAL = projections.Bytes(*sl.SafeWALSize)
		}
		vm.Slots = append(vm.Slots, p)
	}
	return vm
}

// hasDrift reports whether the projection has a drift mapping (its panel
// links to the drift check).
func (s *Server) hasDrift(name string) bool {
	if s.deps.Drift == nil {
		return false
	}
	_, err := s.deps.Drift.Mapping(name)
	return err == nil
}

// panel turns a computed projection into its card.
func panel(p *projections.Projection, now time.Time, hist []projections.HistoryPoint, hasDrift bool, w, h int) views.ProjectionPanel {
	vp := views.ProjectionPanel{
		Name:         p.Name,
		Status:       string(p.Status),
		Position:     p.Position,
		NeverWrote:   p.UpdatedAt == nil,
		LagEvents:    p.LagEvents,
		LagSeconds:   p.LagSeconds,
		Rate:         "—",
		ETA:          "—",
		ErrorCount:   p.ErrorCount,
		NextPosition: p.NextPosition,
		Anomalies:    p.Anomalies,
		LastProgress: "—",
	}
	if p.Rate != nil {
		vp.Rate = views.Compact(*p.Rate) + "/s"
		if *p.Rate > 0 && *p.Rate < 10 {
			vp.Rate = fmt.Sprintf("%.2f/s", *p.Rate)
		}
	}
	if p.ETASeconds != nil {
		vp.ETA = views.Seconds(*p.ETASeconds)
		if *p.ETASeconds == 0 {
			vp.ETA = "now"
		}
	} else if p.LagEvents > 0 {
		vp.ETA = "not moving"
	}
	if p.LastError != nil {
		vp.LastError = *p.LastError
	}
	if p.UpdatedAt != nil {
		vp.UpdatedAt = *p.UpdatedAt
	}
	if !p.LastProgressAt.IsZero() {
		vp.LastProgress = views.Seconds(now.Sub(p.LastProgressAt).Seconds()) + " ago"
	}
	for _, a := range p.Alerts {
		vp.Alerts = append(vp.Alerts, projectionAlert(a))
	}
	vp.HasDrift = hasDrift
	values := make([]float64, len(hist))
	for i, pt := range hist {
		values[i] = float64(pt.LagEvents)
	}
	vp.Sparkline = views.NewSparkline(values, w, h)
	return vp
}

func projectionAlert(a projections.Alert) views.Banner {
	return views.Banner{Level: a.Level, Text: a.Message, Href: "/projections"}
}

// historyWindows are the windows of the history chart.
var historyWindows = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour}

// showProjection is GET /projections/{name}: the history chart, what the
// projection is working on (or stuck on), its errors.
func (s *Server) showProjection(c echo.Context) error {
	if err := s.requireProjections(); err != nil {
		return err
	}
	name := c.Param("name")
	window := c.QueryParam("window")
	if window == "" {
		window = "1h"
	}
	span, ok := historyWindows[window]
	if !ok {
		return badRequest("window", "%q is not one of 15m, 1h, 24h", window)
	}
	ctx := c.Request().Context()
	mon := s.deps.Projections
	p, head, err := mon.Projection(ctx, name)
	if err != nil {
		return projectionError(name, err)
	}
	now := mon.Now()
	bucket := span / 120
	hist, err := mon.History(ctx, name, now.Add(-span), bucket)
	if err != nil {
		return err
	}
	next, err := mon.Unprocessed(ctx, p.Position, 20)
	if err != nil {
		return err
	}
	r := projectionDetailResult{projection: p, head: head, now: now, window: window, history: hist[name],
		unprocessed: next, hasDrift: s.hasDrift(name)}
	return s.renderResult(c, http.StatusOK, name+" · Projections", "projections", r)
}

// projectionDetailResult is what a projection's page computed: the
// projection, its history over the window and the events it has yet to
// process.
type projectionDetailResult struct {
	projection  *projections.Projection
	head        eventstore.Head
	now         time.Time
	window      string
	history     []projections.HistoryPoint
	unprocessed []eventstore.Event
	hasDrift    bool
}

func (r projectionDetailResult) toJSON() any {
	points := r.history
	if points == nil {
		points = []projections.HistoryPoint{}
	}
	return projectionDetailJSON{Projection: r.projection, Window: r.window, History: points, Unprocessed: r.unprocessed}
}

func (r projectionDetailResult) toView(ch views.Chrome) templ.Component {
	vm := views.ProjectionDetailVM{
		Panel:        panel(r.projection, r.now, r.history, r.hasDrift, 300, 44),
		Window:       r.window,
		Windows:      []string{"15m", "1h", "24h"},
		Unprocessed:  eventRows(r.unprocessed, true, rowBudget(ch, maxPreview)),
		HeadPosition: r.head.Position,
	}
	values := make([]float64, len(r.history))
	var hi int64
	for i, pt := range r.history {
		values[i] = float64(pt.LagEvents)
		hi = max(hi, pt.LagEvents)
	}
	vm.Chart = views.Chart{Line: views.NewSparkline(values, 720, 180), YMax: views.Thousands(hi), Points: len(values)}
	if n := len(r.history); n > 0 {
		vm.Chart.From, vm.Chart.To = r.history[0].At, r.history[n-1].At
	}
	return views.ProjectionDetailPage(ch, vm)
}

type projectionDetailJSON struct {
	Projection  *projections.Projection    `json:"projection"`
	Window      string                     `json:"window"`
	History     []projections.HistoryPoint `json:"history"`
	Unprocessed any                        `json:"unprocessed"`
}

// projectionError maps the package's typed errors for the projection
// name to HTTP errors, said for people.
func projectionError(name string, err error) error {
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		return notFound("No projection named “%s”.", capEchoed(name))
	case errors.Is(err, projections.ErrNoDriftMapping):
		return notFound("Projection “%s” has no drift mapping in the configuration.", capEchoed(name))
	case errors.Is(err, projections.ErrUnknownJob):
		return notFound("No such drift job for projection “%s”.", capEchoed(name))
	}
	return err
}

// ProjectionBanners is the banner source for projection and slot alerts.
func ProjectionBanners(mon *projections.Monitor) BannerSource {
	return func(ctx context.Context) ([]views.Banner, error) {
		ov, err := mon.Overview(ctx)
		if err != nil {
			return nil, err
		}
		return headerBanners(ov.Alerts), nil
	}
}

// headerBanners turns threshold alerts into header banners: one per
// projection or slot (its most severe alert, with a count of the others),
// so that a projection breaching three thresholds takes one line, not three.
func headerBanners(alerts []projections.Alert) []views.Banner {
	var out []views.Banner
	index := map[string]int{}
	extra := map[string]int{}
	details := map[string][]string{}
	for _, a := range alerts {
		if !a.Kind.Breach() {
			continue
		}
		// A slot and a projection may share a name: they are two lines.
		key := "s:" + a.Subject
		b := projectionAlert(a)
		if !a.Kind.OnSlot() {
			key = "p:" + a.Subject
			b.Href = "/projections/" + urlPathEscape(a.Subject)
		}
		i, seen := index[key]
		if !seen {
			index[key] = len(out)
			details[key] = []string{a.Message}
			out = append(out, b)
			continue
		}
		extra[key]++
		details[key] = append(details[key], a.Message)
		if b.Level == "danger" && out[i].Level != "danger" {
			out[i] = b
		}
	}
	for key, n := range extra {
		i := index[key]
		out[i].Text += fmt.Sprintf(" (+%d more)", n)
		// Expanding the line lists every alert it stands for.
		out[i].Details = strings.Join(details[key], "\n")
	}
	return out
}
