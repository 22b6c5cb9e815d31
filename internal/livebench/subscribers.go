package livebench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/auditd/auditd/internal/live"
)

// sample is one event received by one subscriber.
type sample struct {
	pos int64
	at  time.Time
}

// subscribers are SSE clients of /live/events over loopback HTTP, each
// recording when it read which event's frame.
type subscribers struct {
	cancel  context.CancelFunc
	done    sync.WaitGroup
	samples [][]sample // one slice per subscriber, written only by its goroutine
}

// subscribe connects n subscribers to the feed at base in the given format
// and returns once each has read the feed's ": subscribed" comment, so none
// misses the first event written.
func subscribe(ctx context.Context, base string, n int, format string) (*subscribers, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &subscribers{cancel: cancel, samples: make([][]sample, n)}
	var ready sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, DisableCompression: true}}
	errs := make(chan error, n)
	for i := range n {
		ready.Add(1)
		s.done.Go(func() {
			readyOnce := sync.OnceFunc(ready.Done)
			defer readyOnce()
			if err := s.read(ctx, client, base+"/live/events?format="+format, format, i, readyOnce); err != nil {
				errs <- err
			}
		})
	}
	ready.Wait()
	select {
	case err := <-errs:
		s.Close()
		return nil, fmt.Errorf("bench live: subscriber: %w", err)
	default:
	}
	return s, nil
}

// read is subscriber i: it reads frames until ctx ends, recording each
// event's position and the time its frame was read.
func (s *subscribers) read(ctx context.Context, client *http.Client, url, format string, i int, ready func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	marker, dataPrefix := []byte(`data-position="`), []byte("data: <article")
	if format == "json" {
		marker, dataPrefix = []byte(`"position":`), []byte("data: {")
	}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil // the run ended (or the server cut the subscriber off: counted by the hub)
		}
		if bytes.HasPrefix(line, []byte(": subscribed")) {
			ready()
			continue
		}
		if !bytes.HasPrefix(line, dataPrefix) {
			continue
		}
		now := time.Now()
		if k := bytes.Index(line, marker); k >= 0 {
			rest := line[k+len(marker):]
			if q := bytes.IndexAny(rest, `",`); q > 0 {
				if p, err := strconv.ParseInt(string(rest[:q]), 10, 64); err == nil {
					s.samples[i] = append(s.samples[i], sample{p, now})
				}
			}
		}
	}
}

// Close disconnects every subscriber and waits for them; their samples are
// then safe to read.
func (s *subscribers) Close() {
	s.cancel()
	s.done.Wait()
}

// probe is an in-process subscriber of the hub: its samples split the
// latency into commit → hub (replication and decoding) and hub → client.
type probe struct {
	sub     *live.Subscription
	done    chan struct{}
	samples []sample
}

// startProbe subscribes to every event of hub.
func startProbe(hub *live.Hub) (*probe, error) {
	sub, err := hub.Subscribe(live.Filter{}, nil)
	if err != nil {
		return nil, err
	}
	p := &probe{sub: sub, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var msgs []*live.Message
		for {
			select {
			case <-sub.Wake():
				now := time.Now()
				msgs = sub.Take(msgs[:0])
				for _, m := range msgs {
					if m.Kind == live.KindEvent {
						p.samples = append(p.samples, sample{m.Event.Position, now})
					}
				}
			case <-sub.Done():
				return
			}
		}
	}()
	return p, nil
}

// Close unsubscribes and waits; the samples are then safe to read.
func (p *probe) Close() {
	p.sub.Close()
	<-p.done
}
