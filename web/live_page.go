package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/views"
)

// liveJSON is /live's JSON shape.
type liveJSON struct {
	Enabled bool        `json:"enabled"`
	Filters liveFilters `json:"filters"`
	SSEURL  string      `json:"sse_url"`
	Stats   *live.Stats `json:"stats"`
	// Recent are the newest events of the resume window, newest first.
	Recent []liveEventJSON `json:"recent"`
}

// liveInitialRows is how many recent events /live renders before the feed.
const liveInitialRows = 50

type liveFilters struct {
	StreamID   string `json:"stream_id"`
	StreamType string `json:"stream_type"`
	EventType  string `json:"event_type"`
}

// parseLiveFilters reads the live filters of /live and its feed, as the
// other pages read theirs: text, bounded, else a 400 naming the filter.
func parseLiveFilters(c echo.Context) (liveFilters, error) {
	var f liveFilters
	err := queryTexts(c, []textParam{{"stream_id", &f.StreamID}, {"stream_type", &f.StreamType}, {"event_type", &f.EventType}})
	return f, err
}

// filter is f as the hub matches it.
func (f liveFilters) filter() live.Filter {
	return live.Filter{StreamID: f.StreamID, StreamType: f.StreamType, EventType: f.EventType}
}

// liveErrorText is the consumer's last error as /live says it. The error
// itself can name socket paths, hosts and users: it stays in the server
// log, where the consumer writes it as it happens.
func liveErrorText(err string) string {
	if err == "" {
		return ""
	}
	if strings.Contains(err, "slot") || strings.Contains(err, "publication") || strings.Contains(err, "wal_level") {
		return "Live replication could not start: the replication slot or publication is not usable (see the server log). Retrying."
	}
	return "Lost the replication connection to PostgreSQL (see the server log). Reconnecting."
}

// showLive is GET /live: the live tail page with the consumer's metrics.
func (s *Server) showLive(c echo.Context) error {
	f, err := parseLiveFilters(c)
	if err != nil {
		return err
	}
	sse := url.Values{}
	for k, v := range map[string]string{"stream_id": f.StreamID, "stream_type": f.StreamType, "event_type": f.EventType} {
		if v != "" {
			sse.Set(k, v)
		}
	}
	data := liveJSON{Enabled: s.deps.LiveHub != nil, Filters: f, SSEURL: "/live/events", Recent: []liveEventJSON{}}
	vm := views.LiveVM{Enabled: data.Enabled, StreamID: f.StreamID, StreamType: f.StreamType, EventType: f.EventType}
	if !wantsJSON(c) {
		// /live needs no database: without one it shows no pick lists
		// rather than no page.
		if vm.Types, err = s.typeLists(c.Request().Context()); err != nil {
			s.logger.Debug("live: no type pick lists", "error", err)
		}
	}
	if s.deps.LiveHub != nil {
		// The newest events of the resume window, and a feed that resumes
		// right after them: no gap and no duplicate between the two.
		recent := s.deps.LiveHub.Recent(f.filter(), liveInitialRows)
		for i := len(recent) - 1; i >= 0; i-- {
			data.Recent = append(data.Recent, s.liveEvent(recent[i]))
			vm.Recent = append(vm.Recent, s.liveEventRow(recent[i]))
		}
		if len(recent) > 0 {
			sse.Set("last_event_id", recent[len(recent)-1].Cursor.String())
		}
	}
	if len(sse) > 0 {
		data.SSEURL += "?" + sse.Encode()
	}
	vm.SSEURL = data.SSEURL
	if s.deps.LiveConsumer != nil {
		st := s.deps.LiveConsumer.Stats()
		st.LastError = liveErrorText(st.LastError)
		data.Stats = &st
		vm.Stats = views.LiveStats{
			Connected:       st.Connected,
			EventsPerSecond: strconv.FormatFloat(st.EventsPerSecond, 'f', 1, 64),
			EventsTotal:     st.EventsTotal,
			LastLSN:         st.LastLSN,
			FlushedLSN:      st.FlushedLSN,
			LagBytes:        st.LagBytes,
			Subscribers:     st.Hub.Subscribers,
			LastError:       st.LastError,
		}
		if st.Ledger != nil {
			vm.Stats.LedgerLSN = st.Ledger.DurableLSN
		}
		if b := st.Backfill; b != nil {
			vm.Stats.Backfill = &views.BackfillVM{Running: b.Running, Events: b.Events, Percent: strconv.FormatFloat(b.Percent, 'f', 0, 64), Error: b.Error}
		}
	} else if s.deps.LiveHub != nil {
		vm.Stats.Subscribers = s.deps.LiveHub.Stats().Subscribers
		vm.Stats.EventsPerSecond = "0.0"
	}
	return s.renderResult(c, http.StatusOK, "Live", "live", liveResult{data: data, vm: vm})
}

// showAlerts is GET /alerts: the tamper alerts, newest first.
func (s *Server) showAlerts(c echo.Context) error {
	if s.deps.LiveAlerts == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "tamper alerts are off (--no-live)")
	}
	alerts, err := s.deps.LiveAlerts.Recent(c.Request().Context(), 200)
	if err != nil {
		return err
	}
	if alerts == nil {
		alerts = []live.Alert{}
	}
	vm := views.AlertsVM{}
	for _, a := range alerts {
		vm.Alerts = append(vm.Alerts, views.AlertVM{ID: a.ID, Kind: a.Kind, CommitLSN: a.CommitLSN, Rows: a.Rows,
			Positions: a.Positions, CommittedAt: a.CommittedAt, DetectedAt: a.DetectedAt})
	}
	return s.renderResult(c, http.StatusOK, "Tamper alerts", "", alertsResult{alerts: alerts, vm: vm})
}

// alertBanner is how one tamper alert reads in a page header.
func alertBanner(a *live.Alert) views.Banner {
	rows := fmt.Sprintf("%d rows", a.Rows)
	if a.Kind == "truncate" {
		rows = "the table"
	} else if a.Rows == 1 {
		rows = "1 row"
	}
	text := fmt.Sprintf("Tamper alert: %s of %s in events (commit %s): the immutability trigger was bypassed", a.Kind, rows, a.CommitLSN)
	if a.Kind == "verify" {
		text = fmt.Sprintf("Tamper alert: verifying the store against the witness ledger found %d problems (from commit %s)", a.Rows, a.CommitLSN)
	}
	return views.Banner{
		Level: "danger",
		Text:  text,
		Href:  "/alerts",
	}
}

// AlertBanners is the banner source for tamper alerts: one line, the
// latest alert with the count of all.
func AlertBanners(alerts *live.Alerts) BannerSource {
	return func(ctx context.Context) ([]views.Banner, error) {
		sum, err := alerts.Summary(ctx)
		if err != nil || sum.Latest == nil {
			return nil, err
		}
		b := alertBanner(sum.Latest)
		if sum.Count > 1 {
			b.Text = fmt.Sprintf("%d tamper alerts; latest: %s", sum.Count, b.Text)
		}
		a := sum.Latest
		b.Details = fmt.Sprintf("Latest: %s of %d rows by transaction %d, committed %s, detected %s", a.Kind, a.Rows, a.Xid,
			a.CommittedAt.UTC().Format(time.RFC3339), a.DetectedAt.UTC().Format(time.RFC3339))
		if len(a.Positions) > 0 {
			b.Details += "\nPositions changed: " + joinPositions(a.Positions, 20)
		}
		return []views.Banner{b}, nil
	}
}

// liveResult is /live's page result.
type liveResult struct {
	data liveJSON
	vm   views.LiveVM
}

func (r liveResult) toJSON() any                            { return r.data }
func (r liveResult) toView(ch views.Chrome) templ.Component { return views.LivePage(ch, r.vm) }

// alertsResult is /alerts' page result.
type alertsResult struct {
	alerts []live.Alert
	vm     views.AlertsVM
}

func (r alertsResult) toJSON() any { return map[string]any{"alerts": r.alerts} }
func (r alertsResult) toView(ch views.Chrome) templ.Component {
	return views.AlertsPage(ch, r.vm)
}

// joinPositions lists at most n positions, "#1, #2 and 3 more".
func joinPositions(ps []int64, n int) string {
	var parts []string
	for i, p := range ps {
		if i == n {
			return strings.Join(parts, ", ") + fmt.Sprintf(" and %d more", len(ps)-n)
		}
		parts = append(parts, "#"+strconv.FormatInt(p, 10))
	}
	return strings.Join(parts, ", ")
}
