package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/eventstore"
)

// ProblemChain is a whole-store verification's problem kind for an entry
// whose hash does not follow from the previous one: an entry of the ledger
// itself was changed, removed or reordered.
const ProblemChain = "chain"

// AuditProblem is one problem a whole-store verification found.
type AuditProblem struct {
	Kind      string `json:"kind"` // changed, missing, unwitnessed or chain
	Position  int64  `json:"position,omitempty"`
	StreamID  string `json:"stream_id,omitempty"`
	Version   int    `json:"version,omitempty"`
	CommitLSN string `json:"commit_lsn,omitempty"` // the entry, when there is one
}

// AuditReport is a whole-store verification: its progress while it runs,
// its result once finished.
type AuditReport struct {
	Running    bool      `json:"running"`
	Trigger    string    `json:"trigger,omitempty"` // "interval" or "manual"
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Total is the number of entries to check, counted when the run
	// started; EntriesChecked may pass it when entries arrive meanwhile.
	Total          int64   `json:"total_entries"`
	EntriesChecked int64   `json:"entries_checked"`
	EventsChecked  int64   `json:"events_checked"`
	Percent        float64 `json:"percent"`
	// Status is intact or broken once finished, empty before.
	Status string `json:"status,omitempty"`
	// Problems lists the first maxProblems problems; ProblemCount counts all.
	Problems     []AuditProblem `json:"problems"`
	ProblemCount int            `json:"problem_count"`
	// Pending counts rows above the ledger's high-water mark (not written
	// to the ledger yet); PrunedRows rows in the pruned ranges.
	Pending    int      `json:"pending"`
	PrunedRows int      `json:"pruned_rows"`
	Pruned     []Anchor `json:"pruned"`
	// AlertLSN is the commit LSN the tamper alert of a break is keyed by:
	// its first broken entry's, or the chain head's for rows never
	// witnessed (no entry of their own), so a break found again by the
	// next run is one alert.
	AlertLSN    string    `json:"alert_lsn,omitempty"`
	AlertXid    int64     `json:"-"`
	AlertCommit time.Time `json:"-"`
	Error       string    `json:"error,omitempty"`
}

// AuditConfig configures an Auditor.
type AuditConfig struct {
	// Every is the interval between runs (default 24 h; negative: only on
	// demand). The first timed run is one interval after Start.
	Every time.Duration
	// Retention, when positive, prunes the entries committed longer ago at
	// the start of every run (Store.Prune), so pruning never races a
	// verification's walk; 0 keeps everything.
	Retention time.Duration
	// OnBroken is called when a run finds a break (the tamper alert).
	OnBroken func(ctx context.Context, r AuditReport) error
	Logger   *slog.Logger
}

// DefaultAuditEvery is how often the whole store is verified by default.
const DefaultAuditEvery = 24 * time.Hour

// Auditor verifies the whole store in the background: every entry's chain
// hash from the last pruned range's anchor, every witnessed event against
// its row, and every row below the high-water mark against the ledger.
type Auditor struct {
	store  *Store
	events *eventstore.Store
	cfg    AuditConfig
	logger *slog.Logger
	now    chan string

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	report  AuditReport
	alertAt uint64 // report.AlertLSN's entry
}

// NewAuditor returns an auditor; nothing runs until Start.
func NewAuditor(store *Store, events *eventstore.Store, cfg AuditConfig) *Auditor {
	if cfg.Every == 0 {
		cfg.Every = DefaultAuditEvery
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Auditor{store: store, events: events, cfg: cfg, logger: logger.With("component", "ledger-audit"), now: make(chan string, 1),
		report: AuditReport{Problems: []AuditProblem{}}}
}

// Start runs verifications at the interval and on demand until Stop.
func (a *Auditor) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		var tick <-chan time.Time
		if a.cfg.Every > 0 {
			t := time.NewTicker(a.cfg.Every)
			defer t.Stop()
			tick = t.C
		}
		for {
			trigger := "interval"
			select {
			case <-ctx.Done():
				return
			case <-tick:
			case trigger = <-a.now:
			}
			a.run(ctx, trigger)
		}
	}()
	return nil
}

// Stop ends the current run and waits for it.
func (a *Auditor) Stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
}

// RunNow starts a verification at once; it reports false when one is
// already running or asked for.
func (a *Auditor) RunNow() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.report.Running {
		return false
	}
	select {
	case a.now <- "manual":
		// Running from now on, so that a page polled at once shows it.
		a.report = AuditReport{Running: true, Trigger: "manual", StartedAt: time.Now(), Problems: []AuditProblem{}}
		return true
	default:
		return false
	}
}

// Every returns the interval between runs as text, empty when runs are
// only on demand.
func (a *Auditor) Every() string {
	if a.cfg.Every < 0 {
		return ""
	}
	return a.cfg.Every.String()
}

// Report returns the current or last run.
func (a *Auditor) Report() AuditReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.report
	r.Problems = append([]AuditProblem(nil), r.Problems...)
	return r
}

// run verifies once and raises the alert of a break.
func (a *Auditor) run(ctx context.Context, trigger string) {
	a.mu.Lock()
	a.report = AuditReport{Running: true, Trigger: trigger, StartedAt: time.Now(), Problems: []AuditProblem{}}
	a.mu.Unlock()
	err := a.verify(ctx)
	a.mu.Lock()
	a.report.Running, a.report.FinishedAt = false, time.Now()
	if err != nil {
		a.report.Error = err.Error()
	} else {
		a.report.Percent = 100
	}
	r := a.report
	a.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			a.logger.Error("ledger: whole-store verification failed", "error", err)
		}
		return
	}
	a.logger.Info("ledger: whole-store verification finished", "status", r.Status, "entries", r.EntriesChecked, "events", r.EventsChecked, "problems", r.ProblemCount)
	if r.Status == StatusBroken && a.cfg.OnBroken != nil {
		if err := a.cfg.OnBroken(ctx, r); err != nil {
			a.logger.Error("ledger: unable to raise the tamper alert of a broken verification", "error", err)
		}
	}
}

// problem records p under the report's lock.
func (a *Auditor) problem(p AuditProblem, e *Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &a.report
	r.ProblemCount++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
	// The earliest entry with a problem: a page's chain is checked before
	// its events.
	if e != nil && (r.AlertLSN == "" || e.CommitLSN < a.alertAt) {
		a.alertAt = e.CommitLSN
		r.AlertLSN, r.AlertXid, r.AlertCommit = pglogrepl.LSN(e.CommitLSN).String(), e.Xid, e.CommittedAt
	}
}

// positionSet is a bit set of event positions.
type positionSet []uint64

func (s *positionSet) add(p int64) {
	i := int(p / 64)
	if i >= len(*s) {
		*s = append(*s, make([]uint64, i+1-len(*s)+len(*s)/4)...)
	}
	(*s)[i] |= 1 << (p % 64)
}

func (s positionSet) has(p int64) bool {
	i := int(p / 64)
	return i < len(s) && s[i]&(1<<(p%64)) != 0
}

// verify walks the chain a page at a time, checking each page's events
// against their rows, then the table's positions against what the ledger
// listed.
func (a *Auditor) verify(ctx context.Context) error {
	if a.cfg.Retention > 0 {
		an, err := a.store.Prune(ctx, time.Now().Add(-a.cfg.Retention))
		if err != nil {
			return err
		}
		if an != nil {
			a.logger.Info("ledger: pruned entries older than the retention", "retention", a.cfg.Retention, "entries", an.Entries, "events", an.Events, "upto", an.UptoLSN)
		}
	}
	anchors, err := a.store.Anchors(ctx)
	if err != nil {
		return err
	}
	var prev Hash
	var after uint64
	var prunedMax int64
	for _, an := range anchors {
		prev, after, prunedMax = an.Hash, an.upto, max(prunedMax, an.MaxPosition)
	}
	var total int64
	if err := a.store.pool.QueryRow(ctx, `SELECT count(*) FROM auditd.ledger`).Scan(&total); err != nil {
		return fmt.Errorf("ledger: unable to count entries: %w", err)
	}
	a.mu.Lock()
	a.report.Pruned, a.report.Total = anchors, total
	a.mu.Unlock()

	var seen positionSet
	var highWater int64
	var head *Entry
	for {
		entries, err := a.store.Entries(ctx, after, walkPage)
		if err != nil {
			return err
		}
		byPos := map[int64]*Entry{}
		var positions []int64
		for i := range entries {
			e := &entries[i]
			if e.ChainHash(prev) != e.Hash {
				a.problem(AuditProblem{Kind: ProblemChain, CommitLSN: pglogrepl.LSN(e.CommitLSN).String()}, e)
			}
			prev, after, head = e.Hash, e.CommitLSN, e
			for _, ev := range e.Events {
				byPos[ev.Position] = e
				positions = append(positions, ev.Position)
				highWater = max(highWater, ev.Position)
				seen.add(ev.Position)
			}
		}
		if err := a.checkEvents(ctx, byPos, positions); err != nil {
			return err
		}
		a.mu.Lock()
		a.report.EntriesChecked += int64(len(entries))
		if total > 0 {
			a.report.Percent = min(99, 100*float64(a.report.EntriesChecked)/float64(total))
		}
		a.mu.Unlock()
		if len(entries) < walkPage {
			break
		}
	}
	highWater = max(highWater, prunedMax)

	// Rows the ledger never listed: below the high-water mark, unwitnessed
	// (or pruned, within a pruned range); above it, pending.
	var unwitnessed []int64
	pending, pruned := 0, 0
	err = a.events.ScanPositions(ctx, 0, 1<<62, func(p int64) error {
		switch {
		case seen.has(p):
		case p > highWater:
			pending++
		case p <= prunedMax:
			pruned++
		default:
			unwitnessed = append(unwitnessed, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(unwitnessed) > 0 {
		// Named by stream and version, for the report's links.
		if err := a.events.ScanCanonicalAt(ctx, unwitnessed[:min(len(unwitnessed), maxProblems)], func(e *eventstore.CanonicalEvent) error {
			v, _ := strconv.Atoi(string(e.Version))
			a.problem(AuditProblem{Kind: ProblemUnwitnessed, Position: e.Position, StreamID: string(e.StreamID), Version: v}, head)
			return nil
		}); err != nil {
			return err
		}
		a.mu.Lock()
		a.report.ProblemCount += max(0, len(unwitnessed)-maxProblems)
		a.mu.Unlock()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.report.Pending, a.report.PrunedRows = pending, pruned
	a.report.Status = StatusIntact
	if a.report.ProblemCount > 0 {
		a.report.Status = StatusBroken
	}
	return nil
}

// checkEvents compares a page's witnessed events with their rows.
func (a *Auditor) checkEvents(ctx context.Context, byPos map[int64]*Entry, positions []int64) error {
	if len(positions) == 0 {
		return nil
	}
	found := make(map[int64]bool, len(positions))
	witnessed := func(e *Entry, p int64) *Event {
		for i := range e.Events {
			if e.Events[i].Position == p {
				return &e.Events[i]
			}
		}
		return nil
	}
	var checked int64
	err := a.events.ScanCanonicalAt(ctx, positions, func(c *eventstore.CanonicalEvent) error {
		found[c.Position] = true
		e := byPos[c.Position]
		w := witnessed(e, c.Position)
		if HashEvent(c) != w.Hash || string(c.StreamID) != w.StreamID || string(c.Version) != strconv.Itoa(w.Version) {
			a.problem(AuditProblem{Kind: ProblemChanged, Position: c.Position, StreamID: w.StreamID, Version: w.Version, CommitLSN: pglogrepl.LSN(e.CommitLSN).String()}, e)
			return nil
		}
		checked++
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range positions {
		if !found[p] {
			e := byPos[p]
			w := witnessed(e, p)
			a.problem(AuditProblem{Kind: ProblemMissing, Position: p, StreamID: w.StreamID, Version: w.Version, CommitLSN: pglogrepl.LSN(e.CommitLSN).String()}, e)
		}
	}
	a.mu.Lock()
	a.report.EventsChecked += checked
	a.mu.Unlock()
	return nil
}
