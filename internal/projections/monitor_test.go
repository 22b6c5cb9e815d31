package projections

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// t0 is when the test events were recorded; now is the injected clock.
var (
	t0  = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	now = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type fixture struct {
	t     *testing.T
	db    *pgtest.DB
	store *eventstore.Store
	clock *clock
	mon   *Monitor
	smp   *Sampler
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	db := pgtest.NewDB(t)
	c := &clock{t: now}
	opts.Clock = c.Now
	mon := NewMonitor(db.Pool, nil, opts)
	return &fixture{t: t, db: db, store: eventstore.New(db.Pool), clock: c, mon: mon, smp: NewSampler(mon, nil, time.Second, time.Hour)}
}

// events appends n events to stream, recorded at start, start+step, ...
func (f *fixture) events(stream string, n int, start time.Time, step time.Duration) []eventstore.Event {
	f.t.Helper()
	var in []eventstore.NewEvent
	for i := range n {
		in = append(in, eventstore.NewEvent{EventType: "Happened", Payload: []byte(`{}`), RecordedAt: start.Add(time.Duration(i) * step)})
	}
	out, err := f.store.Append(f.t.Context(), stream, "Thing", eventstore.AnyVersion, in...)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// checkpoint upserts a checkpoint row as a projection worker would.
func (f *fixture) checkpoint(name string, pos int64, updated time.Time, lastErr *string, errCount int) {
	f.t.Helper()
	_, err := f.db.Pool.Exec(f.t.Context(), `
		INSERT INTO projection_checkpoints (projection, position, updated_at, last_error, error_count) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (projection) DO UPDATE SET position = $2, updated_at = $3, last_error = $4, error_count = $5`,
		name, pos, updated, lastErr, errCount)
	if err != nil {
		f.t.Fatal(err)
	}
}

// sampleAt records the current checkpoints as auditd's sampler would at t.
func (f *fixture) sampleAt(t time.Time) {
	f.t.Helper()
	prev := f.clock.Now()
	f.clock.Set(t)
	defer f.clock.Set(prev)
	if _, err := f.smp.SampleOnce(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) projection(name string) Projection {
	f.t.Helper()
	ov, err := f.mon.Overview(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range ov.Projections {
		if p.Name == name {
			return p
		}
	}
	f.t.Fatalf("projection %s not in overview %+v", name, ov.Projections)
	return Projection{}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func ptr[T any](v T) *T { return &v }

func TestLagSecondsRateAndETA(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	// Positions 1..10, recorded every 10 s from t0: the head (10) is at
	// t0+90s.
	ev := f.events("thing-1", 10, t0, 10*time.Second)
	if ev[0].Position != 1 || ev[9].Position != 10 {
		t.Fatalf("positions %d..%d, want 1..10", ev[0].Position, ev[9].Position)
	}
	// 30 s ago auditd sampled the projection at position 1; it is now at 4.
	f.checkpoint("p", 1, now.Add(-31*time.Second), nil, 0)
	f.sampleAt(now.Add(-30 * time.Second))
	f.checkpoint("p", 4, now.Add(-2*time.Second), nil, 0)

	p := f.projection("p")
	// lag_events = 10 − 4 = 6.
	if p.LagEvents != 6 {
		t.Errorf("lag_events = %d, want 6", p.LagEvents)
	}
	// Oldest unprocessed is position 5 at t0+40s; head at t0+90s: 50 s.
	if !near(p.LagSeconds, 50) || p.NextPosition != 5 {
		t.Errorf("lag_seconds = %v (next %d), want 50 (next 5)", p.LagSeconds, p.NextPosition)
	}
	// (4 − 1) positions in 30 s = 0.1/s; 6 positions at 0.1/s = 60 s.
	if p.Rate == nil || !near(*p.Rate, 0.1) {
		t.Errorf("rate = %v, want 0.1", p.Rate)
	}
	if p.ETASeconds == nil || !near(*p.ETASeconds, 60) {
		t.Errorf("eta = %v, want 60", p.ETASeconds)
	}
	if p.Status != StatusCatchingUp {
		t.Errorf("status = %s, want catching-up", p.Status)
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Thresholds: Thresholds{StallAfter: 30 * time.Second}})
	f.events("thing-1", 10, t0, 10*time.Second) // head 10, long ago

	// Behind, updated 31 s ago: stalled.
	f.checkpoint("stuck", 4, now.Add(-31*time.Second), nil, 0)
	// Behind, updated_at bumped 1 s ago (heartbeat), but auditd saw the
	// position unchanged for 35 s: stalled, judged from observation.
	f.checkpoint("heartbeat", 4, now.Add(-40*time.Second), nil, 0)
	// An error recorded: failing, whatever else.
	f.checkpoint("broken", 4, now.Add(-1*time.Second), ptr("poison event at 5"), 3)
	// Caught up, but the newest event is months old: idle.
	f.checkpoint("quiet", 10, now.Add(-time.Hour), nil, 0)
	for _, at := range []time.Duration{-35, -20, -5} {
		f.sampleAt(now.Add(at * time.Second))
	}
	f.checkpoint("heartbeat", 4, now.Add(-1*time.Second), nil, 0)
	// Behind, updated 29 s ago, never sampled: within the threshold.
	f.checkpoint("fresh", 4, now.Add(-29*time.Second), nil, 0)

	want := map[string]Status{"fresh": StatusCatchingUp, "stuck": StatusStalled, "heartbeat": StatusStalled, "broken": StatusFailing, "quiet": StatusIdle}
	ov, err := f.mon.Overview(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, p := range ov.Projections {
		got[p.Name] = p.Status
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: status %s, want %s", name, got[name], st)
		}
	}
	kinds := map[string]bool{}
	for _, a := range ov.Alerts {
		kinds[a.Subject+"/"+string(a.Kind)] = true
	}
	for _, k := range []string{"stuck/stalled", "heartbeat/stalled", "broken/failing"} {
		if !kinds[k] {
			t.Errorf("missing alert %s in %+v", k, ov.Alerts)
		}
	}

	// Time passes for "fresh": 2 s later it crosses the threshold.
	f.clock.Set(now.Add(2 * time.Second))
	if p := f.projection("fresh"); p.Status != StatusStalled {
		t.Errorf("fresh after 31 s: %s, want stalled", p.Status)
	}
}

func TestCaughtUpAndRecovered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.events("thing-1", 3, now.Add(-10*time.Second), time.Second) // head 3, 8 s ago
	f.checkpoint("live", 3, now.Add(-8*time.Second), nil, 0)
	p := f.projection("live")
	if p.Status != StatusCaughtUp || p.LagEvents != 0 || p.LagSeconds != 0 || p.ETASeconds == nil || *p.ETASeconds != 0 {
		t.Errorf("caught up projection: %+v", p)
	}

	// A worker that advanced after its error without clearing last_error
	// is not failing: auditd saw position 1 then 2 with error_count 1.
	f.checkpoint("recovered", 1, now.Add(-20*time.Second), ptr("transient"), 1)
	f.sampleAt(now.Add(-10 * time.Second))
	f.checkpoint("recovered", 2, now.Add(-5*time.Second), ptr("transient"), 1)
	if p := f.projection("recovered"); p.Status != StatusCatchingUp {
		t.Errorf("recovered: %s, want catching-up", p.Status)
	}
}

func TestBadCheckpoints(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Declared: []string{"ghost"}})
	f.events("thing-1", 5, t0, time.Second)
	f.checkpoint("ahead", 50, now, nil, 0)
	f.checkpoint("negative", -3, now, nil, 0)

	ov, err := f.mon.Overview(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Projection{}
	for _, p := range ov.Projections {
		byName[p.Name] = p
	}
	if p := byName["ahead"]; p.LagEvents != 0 || len(p.Anomalies) != 1 || !strings.Contains(p.Anomalies[0], "beyond the head") {
		t.Errorf("ahead: %+v", p)
	}
	// A negative checkpoint means nothing processed: 5 positions behind,
	// oldest unprocessed is position 1 (t0), head at t0+4s.
	if p := byName["negative"]; p.LagEvents != 5 || !near(p.LagSeconds, 4) || len(p.Anomalies) != 1 {
		t.Errorf("negative: %+v", p)
	}
	if p := byName["ghost"]; p.UpdatedAt != nil || p.LagEvents != 5 || len(p.Anomalies) != 1 || !strings.Contains(p.Anomalies[0], "never wrote") {
		t.Errorf("ghost: %+v", p)
	}
	kinds := map[string]bool{}
	for _, a := range ov.Alerts {
		kinds[string(a.Kind)] = true
	}
	for _, k := range []string{"checkpoint_ahead", "negative_position", "never_wrote"} {
		if !kinds[k] {
			t.Errorf("no %s alert in %+v", k, ov.Alerts)
		}
	}
	if _, _, err := f.mon.Projection(t.Context(), "nope"); !errors.Is(err, ErrUnknownProjection) {
		t.Errorf("unknown projection: %v", err)
	}
}

func TestEmptyStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ov, err := f.mon.Overview(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ov.Head.Position != 0 || len(ov.Projections) != 0 || ov.Slots == nil || ov.Alerts == nil {
		t.Errorf("empty overview: %+v", ov)
	}
	f.checkpoint("new", 0, now, nil, 0)
	if p := f.projection("new"); p.Status != StatusIdle || p.LagEvents != 0 {
		t.Errorf("projection on empty store: %+v", p)
	}
}

func TestThresholdAlerts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Thresholds: Thresholds{LagEvents: 5, LagSeconds: 40, StallAfter: time.Hour}})
	f.events("thing-1", 10, t0, 10*time.Second)
	f.checkpoint("p", 4, now, nil, 0) // 6 behind, 50 s behind
	p := f.projection("p")
	kinds := map[string]bool{}
	for _, a := range p.Alerts {
		kinds[string(a.Kind)] = true
	}
	if !kinds["lag_events"] || !kinds["lag_seconds"] || kinds["stalled"] {
		t.Errorf("alerts %+v", p.Alerts)
	}
}

func TestSlots(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Thresholds: Thresholds{RetainedWAL: 1}})
	name := "t_slot_" + strings.ReplaceAll(f.db.Name, "-", "_")
	if len(name) > 60 {
		name = name[:60]
	}
	if _, err := f.db.Pool.Exec(t.Context(), `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = f.db.Pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, name)
	})
	// Write some WAL so the slot retains bytes.
	f.events("thing-1", 50, t0, time.Second)
	ov, err := f.mon.Overview(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Slots) != 1 || ov.Slots[0].Name != name || ov.Slots[0].Active || ov.Slots[0].RetainedBytes == nil || *ov.Slots[0].RetainedBytes <= 0 {
		t.Fatalf("slots: %+v", ov.Slots)
	}
	if !ov.Slots[0].Warn {
		t.Errorf("slot retaining %d bytes with a 1-byte threshold is not flagged", *ov.Slots[0].RetainedBytes)
	}
	found := false
	for _, a := range ov.Alerts {
		found = found || (a.Kind == "retained_wal" && a.Subject == name)
	}
	if !found {
		t.Errorf("no retained_wal alert: %+v", ov.Alerts)
	}
}

func TestSamplerHistoryAndPrune(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.events("thing-1", 10, t0, time.Second)
	f.checkpoint("p", 2, now, nil, 0)
	f.sampleAt(now.Add(-2 * time.Hour)) // beyond the 1 h retention
	f.checkpoint("p", 6, now, nil, 0)
	f.sampleAt(now.Add(-90 * time.Second))
	f.sampleAt(now.Add(-80 * time.Second)) // same bucket as -90 s (1-minute buckets start at :00)
	hist, err := f.mon.History(t.Context(), "p", now.Add(-time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist["p"]) != 1 || hist["p"][0].LagEvents != 4 || hist["p"][0].Position != 6 {
		t.Errorf("history: %+v", hist)
	}
	n, err := f.smp.Prune(t.Context())
	if err != nil || n != 1 {
		t.Errorf("pruned %d (%v), want 1", n, err)
	}
}

func TestSamplerStartStop(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	mon := NewMonitor(db.Pool, nil, Options{})
	if _, err := db.Pool.Exec(t.Context(), `INSERT INTO projection_checkpoints (projection) VALUES ('p')`); err != nil {
		t.Fatal(err)
	}
	s := NewSampler(mon, nil, 10*time.Millisecond, time.Hour)
	// The start context bounds only the start-up: the sampler runs on
	// after it ends, until Stop.
	startCtx, endStart := context.WithCancel(t.Context())
	if err := s.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	endStart()
	if err := s.Start(t.Context()); !errors.Is(err, ErrSamplerStarted) {
		t.Errorf("second Start: %v", err)
	}
	// Start samples synchronously: a row exists already.
	var n int
	if err := db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.lag_samples WHERE projection = 'p'`).Scan(&n); err != nil || n < 1 {
		t.Errorf("samples after Start: %d (%v)", n, err)
	}
	pgtest.WaitFor(t, "samples after the start context ended", 20*time.Second, func(ctx context.Context) (bool, error) {
		var after int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM auditd.lag_samples WHERE projection = 'p'`).Scan(&after)
		return after > n, err
	})
	s.Stop()
	s.Stop()
}

func TestStreamStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Declared: []string{"ghost"}})
	f.events("a", 3, t0, time.Second) // 1, 2, 3
	f.events("b", 2, t0, time.Second) // 4, 5
	f.events("a", 1, t0, time.Second) // 6
	f.checkpoint("reader", 5, now, nil, 0)
	st, err := f.mon.StreamStatus(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 {
		t.Fatalf("status: %+v", st)
	}
	if s := st[0]; s.Projection != "reader" || s.Processed || s.EventsBehind != 1 || s.StreamPosition != 6 || s.Checkpoint != 5 {
		t.Errorf("a/reader: %+v", s)
	}
	if s := st[1]; s.Projection != "ghost" || !s.NeverWrote || s.Processed || s.EventsBehind != 4 {
		t.Errorf("a/ghost: %+v", s)
	}
	st, err = f.mon.StreamStatus(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	if s := st[0]; !s.Processed || s.EventsBehind != 0 || s.StreamPosition != 5 {
		t.Errorf("b/reader: %+v", s)
	}
	if _, err := f.mon.StreamStatus(t.Context(), "nope"); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("unknown stream: %v", err)
	}
}

// A projection that advanced 50 s ago and has been stuck since shows no
// throughput or ETA from that old progress; one whose worker bumps
// updated_at without moving has its last progress from auditd's samples,
// even when they span less than the stall threshold.
func TestStuckProjectionShowsNoOldRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Thresholds: Thresholds{StallAfter: 30 * time.Second}})
	f.events("thing-1", 10, t0, 10*time.Second)
	f.checkpoint("stuck", 1, now.Add(-56*time.Second), nil, 0)
	f.sampleAt(now.Add(-55 * time.Second))
	f.checkpoint("stuck", 4, now.Add(-50*time.Second), nil, 0)
	f.sampleAt(now.Add(-45 * time.Second))
	f.checkpoint("beating", 4, now.Add(-20*time.Second), nil, 0)
	f.sampleAt(now.Add(-15 * time.Second))
	f.checkpoint("beating", 4, now.Add(-1*time.Second), nil, 0) // a heartbeat

	p := f.projection("stuck")
	if p.Status != StatusStalled || p.Rate == nil || *p.Rate != 0 || p.ETASeconds != nil {
		t.Errorf("stuck: status %s, rate %v, eta %v; want stalled, 0, none", p.Status, p.Rate, p.ETASeconds)
	}
	if got := now.Sub(p.LastProgressAt); got != 45*time.Second {
		t.Errorf("stuck: last progress %s ago, want 45s (the first sample at its position)", got)
	}
	b := f.projection("beating")
	if got := now.Sub(b.LastProgressAt); got != 15*time.Second {
		t.Errorf("beating: last progress %s ago, want 15s (its one sample at that position), not the heartbeat's 1s", got)
	}
}
