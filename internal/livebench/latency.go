package livebench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"time"
)

// latency connects the subscribers and the hub probe to srv, runs the paced
// writers, waits for the deliveries, and measures writer commit return → SSE
// receipt.
func (b *bench) latency(ctx context.Context, srv *server) ([]row, latencyFigures, error) {
	subs, err := subscribe(ctx, "http://"+srv.addr, b.Subscribers, b.Format)
	if err != nil {
		return nil, latencyFigures{}, err
	}
	defer subs.Close()
	probe, err := startProbe(srv.hub)
	if err != nil {
		return nil, latencyFigures{}, err
	}
	defer probe.Close()

	if b.CPUProfile != "" {
		stop, err := startCPUProfile(b.CPUProfile)
		if err != nil {
			return nil, latencyFigures{}, err
		}
		defer stop()
	}
	ws, err := b.write(ctx)
	if err != nil {
		return nil, latencyFigures{}, err
	}
	b.awaitDelivery(ctx, srv, len(ws.committed))
	subs.Close()
	probe.Close()
	rows, fig := b.latencyRows(ws, subs.samples, probe.samples, srv.hub.Stats().CutOff)
	return rows, fig, nil
}

// latencyFigures are a latency run's percentiles, for comparing runs.
type latencyFigures struct{ p50, p99 time.Duration }

// at is the sorted latencies' p-th percentile.
func at(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench live: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench live: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// awaitDelivery waits, at most 10 s, until the consumer has decoded every
// committed event and the sockets have had a moment to drain, or a
// subscriber was cut off (which the results count).
func (b *bench) awaitDelivery(ctx context.Context, srv *server, committed int) {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if srv.hub.Stats().Subscribers < b.Subscribers {
			return
		}
		if srv.consumer.Stats().EventsTotal >= int64(committed) {
			// The hub has them; the last frames are on their way over
			// loopback. Nothing reports "every socket read", so wait a
			// moment that dwarfs the p99.
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// latencyRows matches what each subscriber and the probe received against
// the writers' commit times.
func (b *bench) latencyRows(ws writes, subSamples [][]sample, probeSamples []sample, cutOff int64) ([]row, latencyFigures) {
	var lats []time.Duration
	var received int
	for _, ss := range subSamples {
		received += len(ss)
		lats = append(lats, sinceCommit(ws, ss)...)
	}
	hubLats := sinceCommit(ws, probeSamples)
	slices.Sort(lats)
	slices.Sort(hubLats)
	want := len(ws.committed) * b.Subscribers
	fig := latencyFigures{at(lats, 0.5), at(lats, 0.99)}
	return []row{
		{"latency: setup", fmt.Sprintf("%d SSE subscribers (format=%s) over loopback HTTP, %d writer connections, 1 event per transaction, %s, linger %s", b.Subscribers, b.Format, b.Writers, b.Duration, b.Linger), ""},
		{"latency: target rate", fmt.Sprintf("%.0f events/s", b.Rate), "2,000 events/s"},
		{"latency: sustained write rate", fmt.Sprintf("%.0f events/s (%d events)", float64(len(ws.committed))/ws.elapsed.Seconds(), len(ws.committed)), "2,000 events/s"},
		{"latency: deliveries", fmt.Sprintf("%d of %d (%.2f%%), %d subscribers cut off", received, want, 100*float64(received)/float64(max(want, 1)), cutOff), "100%"},
		{"latency: commit → SSE receipt p50", percentile(lats, 0.50), "< 10 ms"},
		{"latency: commit → SSE receipt p90", percentile(lats, 0.90), ""},
		{"latency: commit → SSE receipt p99", percentile(lats, 0.99), "< 50 ms"},
		{"latency: commit → SSE receipt max", percentile(lats, 1), ""},
		{"latency: of which commit → hub (replication + decoding) p50 / p99", percentile(hubLats, 0.5) + " / " + percentile(hubLats, 0.99), ""},
	}, fig
}

// sinceCommit is, for each sample of a committed event, the time from its
// commit to its receipt.
func sinceCommit(ws writes, samples []sample) []time.Duration {
	var lats []time.Duration
	for _, s := range samples {
		if t, ok := ws.committed[s.pos]; ok {
			// The SSE frame can beat the commit acknowledgement to the
			// writer by microseconds; count that as zero.
			lats = append(lats, max(s.at.Sub(t), 0))
		}
	}
	return lats
}

// percentile of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ms", float64(at(sorted, p))/float64(time.Millisecond))
}
