package live

import (
	"context"
	"time"
)

// DefaultStatusEvery is how often a StatusWatch looks at the consumer when
// no interval is given: an outage is told within this.
const DefaultStatusEvery = 250 * time.Millisecond

// StatusWatch tells subscribers when the consumer loses and regains the
// database server: a KindStatus message on each change of
// Consumer.Stats().Connected. It reads the consumer's own state, so the
// consumer's streaming loop carries no work for the feeds.
type StatusWatch struct {
	consumer *Consumer
	hub      *Hub
	every    time.Duration

	cancel context.CancelFunc
	done   chan struct{}
}

// NewStatusWatch returns a watch of consumer publishing on hub (every <= 0:
// DefaultStatusEvery). Nothing happens until Start.
func NewStatusWatch(consumer *Consumer, hub *Hub, every time.Duration) *StatusWatch {
	if every <= 0 {
		every = DefaultStatusEvery
	}
	return &StatusWatch{consumer: consumer, hub: hub, every: every}
}

// Start takes the consumer's present state as known (a feed opened now
// learns nothing new) and watches it until Stop.
func (w *StatusWatch) Start(ctx context.Context) error {
	connected := w.consumer.Stats().Connected
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := w.consumer.Stats().Connected; now != connected {
				connected = now
				w.hub.Broadcast(&Message{Kind: KindStatus, Connected: now})
			}
		}
	}()
	return nil
}

// Stop ends the watch and waits for it.
func (w *StatusWatch) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
}
