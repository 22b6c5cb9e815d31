package pgtest

import (
	"context"
	"testing"
	"time"
)

// pollEvery is how often WaitFor asks again.
const pollEvery = 10 * time.Millisecond

// WaitFor polls cond until it reports true, and fails the test when cond
// returns an error or limit passes first. It is for state that announces
// itself with no event to wait on (a slot's confirmed position on the
// server, a background job's progress, a worker's checkpoint); what does
// send an event is waited on through it, never polled. cond gets a context
// that ends at the deadline.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			t.Fatalf("timed out after %s waiting for %s (last: %v)", limit, what, err)
		case err != nil:
			t.Fatalf("waiting for %s: %v", what, err)
		case ok:
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		case <-tick.C:
		}
	}
}
