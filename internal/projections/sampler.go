package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrSamplerStarted is returned by a second Start.
var ErrSamplerStarted = errors.New("projections: sampler already started")

// Sampler records every projection's lag into auditd.lag_samples every
// Interval and prunes samples older than Retention, so that the panels show
// trends and throughput even right after auditd restarts.
type Sampler struct {
	mon       *Monitor
	logger    *slog.Logger
	interval  time.Duration
	retention time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSampler returns a sampler; interval defaults to 5 s, retention to 24 h.
func NewSampler(mon *Monitor, logger *slog.Logger, interval, retention time.Duration) *Sampler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	return &Sampler{mon: mon, logger: logger, interval: interval, retention: retention}
}

// Start takes a first sample synchronously (so a broken database fails
// start-up) and then samples in the background until Stop; ctx bounds only
// the start-up, as for every service.
func (s *Sampler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return ErrSamplerStarted
	}
	if _, err := s.SampleOnce(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.run(ctx)
	return nil
}

// Stop ends the background loop and waits for it.
func (s *Sampler) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *Sampler) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SampleOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("projections: unable to sample lag", "error", err)
		}
		// Pruning once a minute is plenty: the table only needs to stay
		// bounded, not exact.
		if time.Since(lastPrune) >= time.Minute {
			lastPrune = time.Now()
			if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("projections: unable to prune lag samples", "error", err)
			} else if n > 0 {
				s.logger.Debug("projections: pruned lag samples", "rows", n)
			}
		}
	}
}

// SampleOnce records the current lag of every projection that has a
// checkpoint row, at the monitor's clock time. It returns the rows written.
func (s *Sampler) SampleOnce(ctx context.Context) (int64, error) {
	now := s.mon.Now()
	head, rows, err := s.mon.checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}
	names := make([]string, len(rows))
	positions := make([]int64, len(rows))
	lagEvents := make([]int64, len(rows))
	lagSeconds := make([]float64, len(rows))
	errCounts := make([]int32, len(rows))
	for i := range rows {
		p := s.mon.evaluate(now, head, rows[i], nil)
		names[i], positions[i], lagEvents[i], lagSeconds[i], errCounts[i] = p.Name, p.Position, p.LagEvents, p.LagSeconds, int32(p.ErrorCount)
	}
	return s.insert(ctx, now, head.Position, names, positions, lagEvents, lagSeconds, errCounts)
}

// insert writes one sample per projection in one statement.
func (s *Sampler) insert(ctx context.Context, at time.Time, headPos int64, names []string, positions, lagEvents []int64, lagSeconds []float64, errCounts []int32) (int64, error) {
	tag, err := s.mon.pool.Exec(ctx, `
		INSERT INTO auditd.lag_samples (projection, sampled_at, position, head_position, lag_events, lag_seconds, error_count)
		SELECT n, $1, p, $2, le, ls, ec
		FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::float8[], $7::int[]) AS u(n, p, le, ls, ec)
		ON CONFLICT (projection, sampled_at) DO NOTHING`,
		at, headPos, names, positions, lagEvents, lagSeconds, errCounts)
	if err != nil {
		return 0, fmt.Errorf("projections: unable to record lag samples: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Prune deletes samples older than the retention.
func (s *Sampler) Prune(ctx context.Context) (int64, error) {
	tag, err := s.mon.pool.Exec(ctx, `DELETE FROM auditd.lag_samples WHERE sampled_at < $1`, s.mon.Now().Add(-s.retention))
	if err != nil {
		return 0, fmt.Errorf("projections: unable to prune lag samples: %w", err)
	}
	return tag.RowsAffected(), nil
}
