// Package projections watches the read models that other processes build
// from the event store: how far behind each projection's checkpoint is, in
// positions and in time, whether it is moving, failing or stuck, the logical
// replication slots that pin WAL, a bounded lag history, and whether a read
// model row still matches the state folded from its stream's events (drift).
//
// Every figure is derived from the public `projection_checkpoints` table, the
// `events` table and auditd's own samples (auditd.lag_samples). Computing all
// panels costs a fixed number of queries (three), each of which is an index
// probe per projection: the cost does not grow with the number of events.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
)

// Status is a projection's state as the panels show it.
type Status string

// Statuses, in the order of precedence used by classify: a failing
// projection is failing even if it is also stalled.
const (
	// StatusFailing: last_error is set and auditd has not seen the
	// projection advance since that error was recorded.
	StatusFailing Status = "failing"
	// StatusStalled: behind the head and no progress for longer than
	// Thresholds.StallAfter.
	StatusStalled Status = "stalled"
	// StatusCatchingUp: behind the head and progressing.
	StatusCatchingUp Status = "catching-up"
	// StatusCaughtUp: checkpoint at (or beyond) the head, with recent traffic.
	StatusCaughtUp Status = "caught-up"
	// StatusIdle: caught up and no event appended for Options.IdleAfter.
	StatusIdle Status = "idle"
)

// ErrUnknownProjection is returned for a name that has no checkpoint row and
// is not declared in the drift configuration.
var ErrUnknownProjection = errors.New("projections: unknown projection")

// Thresholds decide stalls and alerts. Zero values disable the alert (the
// stall threshold defaults to 30 s).
type Thresholds struct {
	StallAfter  time.Duration // behind and no progress for this long: stalled
	LagEvents   int64         // alert at this many positions behind
	LagSeconds  float64       // alert at this many seconds behind
	RetainedWAL int64         // alert when a slot retains this many bytes
}

// Options configure a Monitor.
type Options struct {
	Thresholds
	// Clock is "now"; tests inject a fixed clock so that stall thresholds
	// are testable without sleeping. Default time.Now.
	Clock func() time.Time
	// RateWindow is how far back throughput looks (default 1 minute).
	RateWindow time.Duration
	// IdleAfter: a caught-up projection is idle when the newest event is
	// older than this (default 1 minute).
	IdleAfter time.Duration
	// Declared are projection names expected to exist (from the drift
	// configuration); one without a checkpoint row is shown as never having
	// written instead of being silently absent.
	Declared []string
	// Store is the event store the events, the checkpoints and the slots
	// are read from: the one mapped store on an application's table. nil:
	// auditd's own tables in the monitor's pool.
	Store *eventstore.Store
}

// Monitor computes projection panels. It is safe for concurrent use.
type Monitor struct {
	pool   *pgxpool.Pool     // auditd's own tables (lag samples)
	store  *eventstore.Store // events, checkpoints, and (its database's) slots
	logger *slog.Logger
	opts   Options
}

// NewMonitor returns a Monitor keeping its samples in pool (auditd's own
// schema) and reading events and checkpoints through opts.Store.
func NewMonitor(pool *pgxpool.Pool, logger *slog.Logger, opts Options) *Monitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.StallAfter <= 0 {
		opts.StallAfter = 30 * time.Second
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = time.Minute
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = time.Minute
	}
	store := opts.Store
	if store == nil {
		store = eventstore.New(pool)
	}
	return &Monitor{pool: pool, store: store, logger: logger, opts: opts}
}

// Now is the monitor's clock.
func (m *Monitor) Now() time.Time { return m.opts.Clock() }

// Thresholds returns the configured thresholds (with defaults applied).
func (m *Monitor) Thresholds() Thresholds { return m.opts.Thresholds }

// Projection is one projection's panel. The JSON keys are the public API of
// GET /projections; fields tagged "-" are for the HTML pages only.
type Projection struct {
	Name       string     `json:"name"`
	Position   int64      `json:"position"`
	LagEvents  int64      `json:"lag_events"`  // head position − checkpoint (positions, not events: ids may have gaps)
	LagSeconds float64    `json:"lag_seconds"` // head recorded_at − recorded_at of the oldest unprocessed event
	Rate       *float64   `json:"rate"`        // positions/s over RateWindow; null until auditd has a sample
	ETASeconds *float64   `json:"eta_seconds"` // lag_events / rate; null when not moving
	Status     Status     `json:"status"`
	ErrorCount int        `json:"error_count"`
	LastError  *string    `json:"last_error"`
	UpdatedAt  *time.Time `json:"updated_at"` // null when the projection never wrote a checkpoint

	// NextPosition is the oldest event not yet processed (0 when caught up).
	NextPosition int64 `json:"-"`
	// LastProgressAt is when the projection last advanced, as far as
	// updated_at and auditd's samples tell.
	LastProgressAt time.Time `json:"-"`
	// Anomalies are things wrong with the checkpoint row itself.
	Anomalies []string `json:"-"`
	// Alerts are the threshold breaches of this projection.
	Alerts []Alert `json:"-"`
}

// Behind reports whether the checkpoint is before the head.
func (p *Projection) Behind() bool { return p.LagEvents > 0 }

// Slot is one logical replication slot of the current database.
type Slot struct {
	Name              string  `json:"name"`
	Active            bool    `json:"active"`
	ConfirmedFlushLSN *string `json:"confirmed_flush_lsn"`
	RetainedBytes     *int64  `json:"retained_bytes"` // null when the slot has no restart_lsn yet
	WALStatus         *string `json:"wal_status"`

	Plugin      string `json:"-"`
	SafeWALSize *int64 `json:"-"` // null when max_slot_wal_keep_size is unlimited
	Warn        bool   `json:"-"`
}

// Alert is a threshold breach or an anomaly, shown on the overview and in
// the panels.
type Alert struct {
	Level   string    `json:"level"` // "danger" or "warning"
	Kind    AlertKind `json:"kind"`
	Subject string    `json:"subject"` // a projection's name, or a slot's (Kind.OnSlot)
	Message string    `json:"message"`
}

// AlertKind is what an alert is about; its text is the JSON's "kind".
type AlertKind string

// The alert kinds: threshold breaches first, then anomalies.
const (
	AlertStalled          AlertKind = "stalled"
	AlertFailing          AlertKind = "failing"
	AlertLagEvents        AlertKind = "lag_events"
	AlertLagSeconds       AlertKind = "lag_seconds"
	AlertRetainedWAL      AlertKind = "retained_wal"
	AlertWALLost          AlertKind = "wal_lost"
	AlertCheckpointAhead  AlertKind = "checkpoint_ahead"
	AlertNegativePosition AlertKind = "negative_position"
	AlertNeverWrote       AlertKind = "never_wrote"
)

// OnSlot reports whether the alert's subject is a replication slot, not a
// projection.
func (k AlertKind) OnSlot() bool { return k == AlertRetainedWAL || k == AlertWALLost }

// Breach reports whether the kind is a threshold breach, the alerts every
// page's header shows; anomalies (a checkpoint ahead of the head, a
// negative position, a projection that never wrote) stay in the panels.
func (k AlertKind) Breach() bool {
	switch k {
	case AlertStalled, AlertFailing, AlertLagEvents, AlertLagSeconds, AlertRetainedWAL, AlertWALLost:
		return true
	}
	return false
}

// Overview is every panel at one instant.
type Overview struct {
	Head        eventstore.Head `json:"head"`
	Projections []Projection    `json:"projections"`
	Slots       []Slot          `json:"slots"`
	Alerts      []Alert         `json:"alerts"`

	At time.Time `json:"-"`
	// SlotsError explains an empty slots panel (e.g. no permission).
	SlotsError string `json:"-"`
}

// Overview computes every panel: one query for checkpoints, head and oldest
// unprocessed events, one for recent samples, one for slots.
func (m *Monitor) Overview(ctx context.Context) (*Overview, error) {
	now := m.opts.Clock()
	head, rows, err := m.checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	samples, err := m.recentSamples(ctx, now.Add(-m.sampleLookback()))
	if err != nil {
		return nil, err
	}
	ov := &Overview{Head: head, At: now, Projections: []Projection{}, Slots: []Slot{}, Alerts: []Alert{}}
	seen := map[string]bool{}
	for i := range rows {
		seen[rows[i].Name] = true
		ov.Projections = append(ov.Projections, m.evaluate(now, head, rows[i], samples[rows[i].Name]))
	}
	for _, name := range m.opts.Declared {
		if seen[name] {
			continue
		}
		seen[name] = true
		ov.Projections = append(ov.Projections, m.evaluate(now, head, checkpointRow{Checkpoint: eventstore.Checkpoint{Name: name}, Missing: true}, nil))
	}
	sort.Slice(ov.Projections, func(i, j int) bool { return ov.Projections[i].Name < ov.Projections[j].Name })
	for i := range ov.Projections {
		ov.Alerts = append(ov.Alerts, ov.Projections[i].Alerts...)
	}
	slots, err := m.slots(ctx)
	if err != nil {
		// The panels are still useful without slots (a role without
		// access to pg_replication_slots, a standby).
		m.logger.Warn("projections: unable to read replication slots", "error", err)
		ov.SlotsError = err.Error()
	}
	for i := range slots {
		m.evaluateSlot(&slots[i])
		if slots[i].Warn {
			ov.Alerts = append(ov.Alerts, slotAlert(&slots[i], m.opts.RetainedWAL))
		}
	}
	ov.Slots = append(ov.Slots, slots...)
	return ov, nil
}

// Projection returns one projection's panel, or ErrUnknownProjection.
func (m *Monitor) Projection(ctx context.Context, name string) (*Projection, eventstore.Head, error) {
	ov, err := m.Overview(ctx)
	if err != nil {
		return nil, eventstore.Head{}, err
	}
	for i := range ov.Projections {
		if ov.Projections[i].Name == name {
			return &ov.Projections[i], ov.Head, nil
		}
	}
	return nil, ov.Head, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
}

// sampleLookback is how much history evaluate needs: the rate window and
// the stall window, plus one sample interval's slack.
func (m *Monitor) sampleLookback() time.Duration {
	return max(m.opts.RateWindow, m.opts.StallAfter) + time.Minute
}

// evaluate computes one projection's panel. Definitions (now = the clock):
//
//   - effective checkpoint c = max(position, 0) (a negative position is an
//     anomaly; it means "nothing processed").
//   - lag_events = max(head.position − c, 0). A checkpoint beyond the head
//     (a worker bug, or a restored database) is an anomaly, lag 0.
//   - lag_seconds = head.recorded_at − recorded_at of the first event with
//     position > c, clamped at 0 (imports may write recorded_at out of
//     position order); 0 when caught up.
//   - rate = (position − position of the oldest auditd sample taken within
//     RateWindow) / seconds since that sample, if that sample is at least
//     1 s old and the position did not go backwards (a reset); else null.
//   - eta_seconds = 0 when caught up, lag_events / rate when rate > 0, else
//     null.
//   - last progress = updated_at, corrected by auditd's samples: if a
//     sample shows a different position, the projection advanced after it,
//     so last progress is at least the first later sample at the current
//     position (or now, if none); if every sample shows the current
//     position and the oldest one is older than updated_at, updated_at was
//     bumped without progress (a worker recording errors or heartbeats),
//     so last progress is that oldest sample's time.
//   - when behind with no progress for longer than StallAfter, rate is 0
//     and eta_seconds null: the window's rate would be old progress.
//   - status: failing when last_error is non-empty unless auditd saw the
//     position advance while error_count kept its current value (the
//     worker progressed after its error but did not clear it); else
//     stalled when behind and now − last progress > StallAfter; else
//     catching-up when behind; else idle when now − head.recorded_at >
//     IdleAfter (or the log is empty); else caught-up.
func (m *Monitor) evaluate(now time.Time, head eventstore.Head, cp checkpointRow, samples []sample) Projection {
	p := Projection{Name: cp.Name, Position: cp.Position, ErrorCount: cp.ErrorCount, LastError: cp.LastError}
	if !cp.Missing {
		at := cp.UpdatedAt
		p.UpdatedAt = &at
	}
	c := max(cp.Position, 0)
	p.LagEvents = max(head.Position-c, 0)
	switch {
	case cp.Missing:
		p.Anomalies = append(p.Anomalies, "never wrote a checkpoint: no row in projection_checkpoints")
	case cp.Position < 0:
		p.Anomalies = append(p.Anomalies, fmt.Sprintf("negative checkpoint position %d (treated as 0)", cp.Position))
	case cp.Position > head.Position:
		p.Anomalies = append(p.Anomalies, fmt.Sprintf("checkpoint %d is beyond the head %d", cp.Position, head.Position))
	}
	if p.LagEvents > 0 && cp.NextAt != nil {
		p.NextPosition = cp.NextPosition
		p.LagSeconds = max(head.RecordedAt.Sub(*cp.NextAt).Seconds(), 0)
	}

	// Samples newest first are what the progress rules walk.
	sort.Slice(samples, func(i, j int) bool { return samples[i].At.After(samples[j].At) })
	if old, ok := oldestWithin(samples, now, m.opts.RateWindow); ok && cp.Position >= old.Position {
		r := float64(cp.Position-old.Position) / now.Sub(old.At).Seconds()
		p.Rate = &r
	}
	switch {
	case p.LagEvents == 0:
		zero := 0.0
		p.ETASeconds = &zero
	case p.Rate != nil && *p.Rate > 0:
		eta := float64(p.LagEvents) / *p.Rate
		p.ETASeconds = &eta
	}

	p.LastProgressAt = m.lastProgress(now, cp, samples)
	if p.LagEvents > 0 && now.Sub(p.LastProgressAt) > m.opts.StallAfter {
		// Not moving: a rate over the window would be old progress, and
		// an ETA from it a promise the projection is not keeping.
		zero := 0.0
		p.Rate, p.ETASeconds = &zero, nil
	}
	failing := cp.LastError != nil && *cp.LastError != "" && !advancedSinceError(cp, samples)
	switch {
	case failing:
		p.Status = StatusFailing
	case p.LagEvents > 0 && now.Sub(p.LastProgressAt) > m.opts.StallAfter:
		p.Status = StatusStalled
	case p.LagEvents > 0:
		p.Status = StatusCatchingUp
	case head.Position == 0 || now.Sub(head.RecordedAt) > m.opts.IdleAfter:
		p.Status = StatusIdle
	default:
		p.Status = StatusCaughtUp
	}
	p.Alerts = m.alerts(&p)
	return p
}

// oldestWithin returns the oldest sample taken in [now−window, now−1s].
func oldestWithin(newestFirst []sample, now time.Time, window time.Duration) (sample, bool) {
	var out sample
	found := false
	for _, s := range newestFirst {
		age := now.Sub(s.At)
		if age < time.Second {
			continue
		}
		if age > window {
			break
		}
		out, found = s, true
	}
	return out, found
}

// lastProgress implements the "last progress" rule documented on evaluate.
func (m *Monitor) lastProgress(now time.Time, cp checkpointRow, newestFirst []sample) time.Time {
	last := cp.UpdatedAt
	if cp.Missing {
		last = time.Time{}
	}
	var firstSame *sample
	for i := range newestFirst {
		s := &newestFirst[i]
		if s.At.After(now) {
			continue
		}
		if s.Position != cp.Position {
			// Advanced after s: at least when auditd first saw the new
			// position, or now if it has not sampled it yet.
			seen := now
			if firstSame != nil {
				seen = firstSame.At
			}
			if seen.After(last) {
				last = seen
			}
			return last
		}
		firstSame = s
	}
	// Every sample shows the current position: it was reached by the
	// oldest of them, whatever updated_at says (a write that did not move
	// the position is not progress).
	if firstSame != nil && firstSame.At.Before(last) {
		last = firstSame.At
	}
	return last
}

// advancedSinceError reports whether samples show the position advancing
// while error_count already had its current value.
func advancedSinceError(cp checkpointRow, newestFirst []sample) bool {
	for _, s := range newestFirst {
		if s.ErrorCount != cp.ErrorCount {
			return false
		}
		if s.Position < cp.Position {
			return true
		}
	}
	return false
}

// alerts lists a projection's threshold breaches and anomalies.
func (m *Monitor) alerts(p *Projection) []Alert {
	var out []Alert
	add := func(level string, kind AlertKind, msg string) {
		out = append(out, Alert{Level: level, Kind: kind, Subject: p.Name, Message: msg})
	}
	switch p.Status {
	case StatusFailing:
		msg := fmt.Sprintf("projection %s is failing (%d errors)", p.Name, p.ErrorCount)
		if p.LastError != nil {
			msg += ": " + truncate(*p.LastError, 120)
		}
		add("danger", AlertFailing, msg)
	case StatusStalled:
		add("danger", AlertStalled, fmt.Sprintf("projection %s is stalled: %d positions behind, no progress for %s", p.Name, p.LagEvents, roundDuration(m.opts.Clock().Sub(p.LastProgressAt))))
	}
	if m.opts.LagEvents > 0 && p.LagEvents >= m.opts.LagEvents {
		add("warning", AlertLagEvents, fmt.Sprintf("projection %s is %d positions behind (threshold %d)", p.Name, p.LagEvents, m.opts.LagEvents))
	}
	if m.opts.LagSeconds > 0 && p.LagSeconds >= m.opts.LagSeconds {
		add("warning", AlertLagSeconds, fmt.Sprintf("projection %s is %s behind (threshold %s)", p.Name, roundDuration(seconds(p.LagSeconds)), roundDuration(seconds(m.opts.LagSeconds))))
	}
	for _, a := range p.Anomalies {
		kind := AlertCheckpointAhead
		switch {
		case p.UpdatedAt == nil:
			kind = AlertNeverWrote
		case p.Position < 0:
			kind = AlertNegativePosition
		}
		add("warning", kind, fmt.Sprintf("projection %s: %s", p.Name, a))
	}
	return out
}

// evaluateSlot flags a slot that retains too much WAL or lost it.
func (m *Monitor) evaluateSlot(s *Slot) {
	if s.WALStatus != nil && (*s.WALStatus == "lost" || *s.WALStatus == "unreserved") {
		s.Warn = true
	}
	if m.opts.RetainedWAL > 0 && s.RetainedBytes != nil && *s.RetainedBytes >= m.opts.RetainedWAL {
		s.Warn = true
	}
}

func slotAlert(s *Slot, threshold int64) Alert {
	if s.WALStatus != nil && (*s.WALStatus == "lost" || *s.WALStatus == "unreserved") {
		return Alert{Level: "danger", Kind: AlertWALLost, Subject: s.Name,
			Message: fmt.Sprintf("replication slot %s: wal_status is %s (required WAL is being or has been removed)", s.Name, *s.WALStatus)}
	}
	return Alert{Level: "warning", Kind: AlertRetainedWAL, Subject: s.Name,
		Message: fmt.Sprintf("replication slot %s retains %s of WAL (threshold %s)", s.Name, Bytes(*s.RetainedBytes), Bytes(threshold))}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// roundDuration shortens a duration for messages: 3d 4h, 1h2m, 3m4s, 5.2s.
func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// Bytes formats a byte count for people: 1.5 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit && f > -unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PiB", f/unit)
}
