package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/views"
)

// BannerSource computes banners for every page's header (tamper alerts,
// projection threshold breaches). It may query the database: the
// BannerRefresher calls it in the background, never a page view.
type BannerSource func(ctx context.Context) ([]views.Banner, error)

// DatabaseBanners is the outage banner while pool's database cannot be
// reached, none once it answers: the header says an outage and clears by
// itself. Another error (not an outage) keeps the last answer.
func DatabaseBanners(pool *pgxpool.Pool) BannerSource {
	return func(ctx context.Context) ([]views.Banner, error) {
		ctx, cancel := context.WithTimeout(ctx, databasePingTimeout)
		defer cancel()
		err := pool.Ping(ctx)
		switch {
		case err == nil:
			return nil, nil
		case databaseUnavailable(err), errors.Is(ctx.Err(), context.DeadlineExceeded):
			return []views.Banner{outageBanner}, nil
		}
		return nil, err
	}
}

// databasePingTimeout bounds DatabaseBanners' ping: a server that hangs is
// as unavailable as one that refuses.
const databasePingTimeout = 2 * time.Second

// DefaultBannerEvery is how often a BannerRefresher recomputes the banners
// when none is given.
const DefaultBannerEvery = time.Second

// BannerRefresher keeps the header banners in memory, recomputed every
// interval, so that a page view reads them without a query and without
// waiting on another request's query.
type BannerRefresher struct {
	sources []BannerSource
	every   time.Duration
	logger  *slog.Logger

	mu   sync.Mutex
	last [][]views.Banner // per source: its last good answer

	cancel context.CancelFunc
	done   chan struct{}
}

// NewBannerRefresher returns a refresher over sources (every <= 0:
// DefaultBannerEvery). Banners is empty until Start.
func NewBannerRefresher(logger *slog.Logger, every time.Duration, sources ...BannerSource) *BannerRefresher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = DefaultBannerEvery
	}
	return &BannerRefresher{sources: sources, every: every, logger: logger, last: make([][]views.Banner, len(sources))}
}

// Start computes the banners once, so that the first page has them, then
// keeps them fresh until Stop or ctx ends.
func (r *BannerRefresher) Start(ctx context.Context) error {
	r.Refresh(ctx)
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.Refresh(ctx)
			}
		}
	}()
	return nil
}

// Stop ends the background refresh and waits for it.
func (r *BannerRefresher) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

// Refresh recomputes the banners now. A source that fails keeps its last
// answer: a banner query must never blank the header.
func (r *BannerRefresher) Refresh(ctx context.Context) {
	for i, src := range r.sources {
		b, err := src(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("web: unable to refresh banners", "error", err)
			}
			continue
		}
		r.mu.Lock()
		r.last[i] = b
		r.mu.Unlock()
	}
}

// Banners is every source's last answer, in the sources' order.
func (r *BannerRefresher) Banners() []views.Banner {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []views.Banner
	for _, b := range r.last {
		out = append(out, b...)
	}
	return out
}
