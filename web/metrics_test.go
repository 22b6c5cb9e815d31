package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
	"github.com/auditd/auditd/internal/projections"
)

// scrape reads /metrics through the router as a loopback client and parses
// it with the client library's own text parser.
func scrape(t *testing.T, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body.String())
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the family's series whose labels include
// labels (name, value pairs); ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// mustMetric is metricValue failing the test when the series is missing.
func mustMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in /metrics", name, labels)
	}
	return v
}

// TestMetricsFollowLiveEvents appends events through a real replication
// consumer and reads them back as Prometheus metrics: the consumer's counter,
// the window, subscribers, resyncs, projection lag and status, the slot, the
// request histogram by route pattern and the build info.
func TestMetricsFollowLiveEvents(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	slot := newLiveSlot(t, db)
	st, _ := startLive(t, db, slot, live.HubConfig{})
	mon := projections.NewMonitor(db.Pool, nil, projections.Options{})
	cfg := testConfig
	cfg.Version = "v9.9.9-test"
	srv := New(cfg, Deps{Pool: db.Pool, Store: eventstore.New(db.Pool),
		LiveHub: st.hub, LiveConsumer: st.consumer, Projections: mon, LiveHeartbeat: time.Hour})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	feed := openSSE(t, hs.URL+"/live/events?format=json", "")
	const n = 5
	var positions []int64
	for v := 1; v <= n; v++ {
		positions = append(positions, sqlInsert(t, db, "wallet-7", v))
		feed.nextEvent(t)
	}
	// The checkpoint's lag message comes from a later transaction than the
	// events, so once it arrived the consumer has counted them all.
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO projection_checkpoints (projection, position) VALUES ('balances', $1)`, positions[1]); err != nil {
		t.Fatal(err)
	}
	for feed.next(t).Event != "lag" {
	}
	// A cursor from before the slot started: the feed sends resync.
	old := openSSE(t, hs.URL+"/live/events", "0000000000000001-0")
	if m := old.next(t); m.Event != "resync" {
		t.Fatalf("old cursor got %+v, want resync", m)
	}
	ok := httptest.NewRecorder()
	srv.Handler().ServeHTTP(ok, httptest.NewRequest(http.MethodGet, "/streams/wallet-7", nil))
	missing := httptest.NewRecorder()
	srv.Handler().ServeHTTP(missing, httptest.NewRequest(http.MethodGet, "/streams/no-such-wallet", nil))
	if ok.Code != http.StatusOK || missing.Code != http.StatusNotFound {
		t.Fatalf("timeline answers %d and %d, want 200 and 404", ok.Code, missing.Code)
	}

	fams := scrape(t, srv)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"auditd_live_consumer_events_total", nil, n},
		{"auditd_live_consumer_connected", nil, 1},
		{"auditd_live_window_events", nil, n},
		{"auditd_live_subscribers", nil, 1}, // the resynced feed has gone
		{"auditd_live_resyncs_total", nil, 1},
		{"auditd_live_cut_offs_total", nil, 0},
		{"auditd_projections_up", nil, 1},
		{"auditd_projection_lag_positions", []string{"projection", "balances"}, float64(positions[n-1] - positions[1])},
		{"auditd_projection_status", []string{"projection", "balances", "status", string(projections.StatusStalled)}, 0},
		{"auditd_replication_slot_active", []string{"slot", slot}, 1},
		{"auditd_build_info", []string{"version", "v9.9.9-test"}, 1},
		{"auditd_http_request_duration_seconds", []string{"route", "/streams/:id", "status", "200", "method", "GET"}, 1},
		{"auditd_http_request_duration_seconds", []string{"route", "/streams/:id", "status", "404"}, 1},
	}
	for _, c := range checks {
		if got := mustMetric(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Behind the head and just written: catching up, exactly one status set.
	var set float64
	for _, m := range fams["auditd_projection_status"].GetMetric() {
		set += m.GetGauge().GetValue()
	}
	if set != 1 || mustMetric(t, fams, "auditd_projection_status", "projection", "balances", "status", string(projections.StatusCatchingUp)) != 1 {
		t.Errorf("projection status series: %v", fams["auditd_projection_status"].GetMetric())
	}
	if b := mustMetric(t, fams, "auditd_live_window_bytes"); b <= 0 {
		t.Errorf("window bytes = %v, want > 0 with %d events", b, n)
	}
	if _, ok := metricValue(fams, "auditd_replication_slot_retained_wal_bytes", "slot", slot); !ok {
		t.Error("no retained WAL for the consumer's slot")
	}
	if _, ok := metricValue(fams, "auditd_live_consumer_behind_bytes"); !ok {
		t.Error("no auditd_live_consumer_behind_bytes")
	}
	// Routes, never raw paths: an id in a label would be a series per id.
	for _, m := range fams["auditd_http_request_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" && lp.GetValue() == "/streams/wallet-7" {
				t.Errorf("raw path as route label: %v", m)
			}
		}
	}

	// More events move the counter and the window with them.
	sqlInsert(t, db, "wallet-7", n+1)
	feed.nextEvent(t)
	if _, err := db.Pool.Exec(t.Context(), `UPDATE projection_checkpoints SET position = $1 WHERE projection = 'balances'`, positions[n-1]); err != nil {
		t.Fatal(err)
	}
	for feed.next(t).Event != "lag" {
	}
	fams = scrape(t, srv)
	if got := mustMetric(t, fams, "auditd_live_consumer_events_total"); got != n+1 {
		t.Errorf("events total = %v after one more, want %d", got, n+1)
	}
	if got := mustMetric(t, fams, "auditd_live_window_events"); got != n+1 {
		t.Errorf("window = %v after one more, want %d", got, n+1)
	}
	if got := mustMetric(t, fams, "auditd_projection_lag_positions", "projection", "balances"); got != 1 {
		t.Errorf("lag = %v positions, want 1", got)
	}
}

// TestMetricsOnlyFromLoopback: without a session, /metrics answers only a
// client on this host, whatever X-Forwarded-For claims.
func TestMetricsOnlyFromLoopback(t *testing.T) {
	t.Parallel()
	srv := New(Config{PublicURL: "http://example.com"}, Deps{}) // sign-in on: /metrics needs no session from loopback
	for _, c := range []struct {
		remote, forwarded string
		want              int
	}{
		{"192.0.2.7:5000", "", http.StatusForbidden},
		{"192.0.2.7:5000", "127.0.0.1", http.StatusForbidden},
		{"127.0.0.1:5000", "", http.StatusOK},
		{"[::1]:5000", "", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = c.remote
		req.Header.Set("Accept", "application/json")
		if c.forwarded != "" {
			req.Header.Set("X-Forwarded-For", c.forwarded)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("from %s (forwarded %q): %d, want %d", c.remote, c.forwarded, rec.Code, c.want)
		}
		if c.want == http.StatusOK {
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(rec.Body)
			if err != nil || fams["auditd_build_info"] == nil || fams["go_goroutines"] == nil {
				t.Errorf("from %s: families %v, %v", c.remote, len(fams), err)
			}
		}
	}
}

// TestMetricsFromAnotherHostNeedAnEngineer: off loopback, /metrics answers a
// session or API token of the engineer role or higher, refuses support
// (403) and a revoked token (401), whatever X-Forwarded-For claims.
func TestMetricsFromAnotherHostNeedAnEngineer(t *testing.T) {
	t.Parallel()
	ab := authSetup(t, authConfig, access.Options{})
	token := func(name string) string {
		_, secret, err := ab.access.CreateToken(t.Context(), name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	revokedTok, revoked, err := ab.access.CreateToken(t.Context(), "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ab.access.RevokeToken(t.Context(), revokedTok.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, bearer string
		want         int
	}{
		{"no credentials", "", http.StatusForbidden},
		{"support token", token("support"), http.StatusForbidden},
		{"engineer token", token("engineer"), http.StatusOK},
		{"admin token", token("admin"), http.StatusOK},
		{"revoked admin token", revoked, http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "192.0.2.7:5000"
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		rec := httptest.NewRecorder()
		ab.server.Handler().ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s from 192.0.2.7: %d, want %d; %.200s", c.name, rec.Code, c.want, rec.Body.String())
			continue
		}
		if c.want == http.StatusOK {
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(rec.Body)
			if err != nil || fams["auditd_build_info"] == nil {
				t.Errorf("%s: families %d, %v", c.name, len(fams), err)
			}
		}
	}
}
