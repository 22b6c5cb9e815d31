package access

import (
	"sync"
	"time"
)

// throttle counts failed sign-ins per key (an account name, a client
// address) in a sliding window. It lives in memory: a restart forgets the
// counts, which costs an attacker a restart per window.
type throttle struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

// maxThrottleKeys bounds the memory a flood of distinct names can take;
// past it, keys whose failures are all outside the window are dropped.
const maxThrottleKeys = 100_000

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, fails: map[string][]time.Time{}}
}

// blocked reports whether key failed max times within the window, and when
// the oldest of those failures leaves it.
func (t *throttle) blocked(key string, now time.Time) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.recent(key, now)
	if len(f) >= t.max {
		return true, f[len(f)-t.max].Add(t.window)
	}
	return false, time.Time{}
}

// fail records a failure of key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= maxThrottleKeys {
		for k := range t.fails {
			t.recent(k, now)
		}
	}
	t.fails[key] = append(t.recent(key, now), now)
}

// reset forgets key's failures (after a successful sign-in).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}

// recent drops key's failures older than the window and returns the rest.
func (t *throttle) recent(key string, now time.Time) []time.Time {
	f := t.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= t.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, key)
		return nil
	}
	t.fails[key] = f
	return f
}
