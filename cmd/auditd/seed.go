package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/demo"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/schema"
)

// runSeed loads the demo world into --database-url (or the embedded
// cluster), migrating first.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, db, err := openCommand(ctx, "seed", args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	loaded, err := loadDemoWorld(ctx, cfg, db, stdout, stderr)
	if err == nil && !loaded {
		fmt.Fprintln(stdout, "the demo world is already loaded; nothing to do")
	}
	return err
}

// loadDemoWorld migrates and loads the demo world unless it is there
// already (it uses fixed stream ids: loading it twice would collide on
// (stream_id, version)). It reports whether it loaded it.
func loadDemoWorld(ctx context.Context, cfg *config, db *database, stdout, stderr io.Writer) (bool, error) {
	if _, err := schema.Migrate(ctx, db.Pool); err != nil {
		return false, err
	}
	store := eventstore.New(db.Pool)
	seeded, err := demo.Seeded(ctx, store)
	if err != nil || seeded {
		return false, err
	}
	return true, seed(ctx, store, cfg.Events, cfg.Seed, stderr, stdout)
}

// seed loads n demo events, drawing a progress bar on progressOut.
func seed(ctx context.Context, store *eventstore.Store, n int, rngSeed uint64, progressOut, stdout io.Writer) error {
	start := time.Now()
	bar := newProgressBar(progressOut, "loading demo events")
	loaded, err := demo.Seed(ctx, store, demo.Options{Seed: rngSeed, Events: n}, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "loaded %d demo events in %s (%.0f events/s)\n", loaded, elapsed.Round(time.Millisecond), float64(loaded)/elapsed.Seconds())
	return nil
}

// progressBar draws "label [#####.....]  42% 420000/1000000  ETA 12s" on one
// line, rewritten in place.
type progressBar struct {
	w     io.Writer
	label string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now()}
}

func (p *progressBar) update(done, total int) {
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	filled := int(frac * width)
	eta := ""
	if done > 0 && done < total {
		rest := time.Duration(float64(now.Sub(p.start)) * (1/frac - 1))
		eta = "  ETA " + rest.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d%s   ", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, done, total, eta)
	p.drawn = true
}

func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
