package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/internal/pgtest"
)

// readGate pauses a client's reads: a subscriber that stops reading, as a
// stopped process or a frozen tab does, without closing its connection.
type readGate struct {
	mu   sync.Mutex
	cond *sync.Cond
	shut bool
}

func newReadGate() *readGate {
	g := &readGate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *readGate) pause() { g.mu.Lock(); g.shut = true; g.mu.Unlock() }

func (g *readGate) resume() { g.mu.Lock(); g.shut = false; g.cond.Broadcast(); g.mu.Unlock() }

func (g *readGate) reader(r io.Reader) io.Reader { return gatedReader{g, r} }

type gatedReader struct {
	g *readGate
	r io.Reader
}

func (gr gatedReader) Read(p []byte) (int, error) {
	gr.g.mu.Lock()
	for gr.g.shut {
		gr.g.cond.Wait()
	}
	gr.g.mu.Unlock()
	return gr.r.Read(p)
}

// syncWriter is a pool whose commits reach the WAL at once (the test
// cluster defers WAL flushes).
func syncWriter(t *testing.T, db *pgtest.DB) *pgxpool.Pool {
	t.Helper()
	w, err := pgxpool.New(t.Context(), db.ConnString+"&synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// insertBlobs commits n events of stream, one transaction each, with a
// payload of about size bytes built by the server (the test process never
// holds it), and returns their positions.
func insertBlobs(t *testing.T, w *pgxpool.Pool, stream string, n, size int) []int64 {
	t.Helper()
	var out []int64
	for v := 1; v <= n; v++ {
		var pos int64
		if err := w.QueryRow(t.Context(), `INSERT INTO events (stream_id, stream_type, version, event_type, payload)
			VALUES ($1, 'blob', $2::int, 'Blob', jsonb_build_object('blob', repeat(md5($2::int::text), $3::int / 32)))
			RETURNING position`, stream, v, size).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		out = append(out, pos)
	}
	return out
}

// probeHub subscribes to the events of one stream and reads them as they
// come; the channel closes once n were published (or the probe was cut off).
func probeHub(t *testing.T, hub *live.Hub, streamID string, n int) <-chan struct{} {
	t.Helper()
	sub, err := hub.Subscribe(live.Filter{StreamID: streamID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var got []*live.Message
		for len(got) < n {
			select {
			case <-sub.Wake():
				got = sub.Take(got)
			case <-sub.Done():
				return
			}
		}
	}()
	return done
}

// Not parallel: it measures the process's heap, which other tests would
// add to.
func TestLiveLargeEventsStayBoundedInMemory(t *testing.T) {
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), live.HubConfig{})
	htmlc := openSSE(t, st.http.URL+"/live/events", "")
	jsonc := openSSE(t, st.http.URL+"/live/events?format=json&stream_id=huge", "")
	w := syncWriter(t, db)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	var peak uint64
	positions := insertBlobs(t, w, "huge", 40, 5<<20)
	for _, pos := range positions {
		h := htmlc.nextEvent(t)
		got, doc := rowPosition(t, h.Data)
		link := doc.Find("[data-testid=event-large] a").AttrOr("href", "")
		if got != fmt.Sprint(pos) || link != fmt.Sprintf("/events/%d", pos) || len(h.Data) > 4<<10 {
			t.Fatalf("HTML fragment for event %d: position %s, link %q, %d bytes", pos, got, link, len(h.Data))
		}
		j := jsonc.nextEvent(t)
		var e struct {
			Position     int64           `json:"position"`
			Truncated    bool            `json:"truncated"`
			PayloadBytes int             `json:"payload_bytes"`
			Href         string          `json:"href"`
			Payload      json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(j.Data), &e); err != nil {
			t.Fatal(err)
		}
		if e.Position != pos || !e.Truncated || e.PayloadBytes < 5<<20 || e.Href != link || string(e.Payload) != "null" {
			t.Fatalf("JSON event %d: %+v", pos, e)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("heap: %d MB before, %d MB in use at most, %d MB after; runtime total %d MB", before>>20, peak>>20, ms.HeapAlloc>>20, ms.Sys>>20)
	if peak > 400<<20 || ms.Sys > 400<<20 {
		t.Fatalf("40 events of 5 MB: heap peaked at %d MB, runtime holds %d MB (limit 400 MB)", peak>>20, ms.Sys>>20)
	}
	if ms.HeapAlloc > before+32<<20 {
		t.Fatalf("the hub keeps %d MB after 40 large events", (ms.HeapAlloc-before)>>20)
	}
}

// readRest reads a paused-then-resumed client to the end of its stream and
// returns the ids of its events and whether the last message was a resync.
func readRest(t *testing.T, c *sseClient, want int) (ids []string, resync bool) {
	t.Helper()
	for m := range c.msgs {
		switch m.Event {
		case "event":
			ids = append(ids, m.ID)
			if len(ids) == want {
				return ids, false
			}
		case "resync":
			return ids, true
		}
	}
	return ids, false
}

// pausedThroughBurst is a format=json&stream_id= subscriber that stops
// reading while n events of size bytes are committed, then reads on to the
// end. It returns the hub, the ids of the events it received, whether a
// resync came last and whether the stream then ended.
func pausedThroughBurst(t *testing.T, cfg live.HubConfig, n, size int) (hub *live.Hub, ids []string, resync, ended bool) {
	t.Helper()
	db := pgtest.NewDB(t)
	st, _ := startLive(t, db, newLiveSlot(t, db), cfg)
	gate := newReadGate()
	slow := openSSEThrough(t, st.http.URL+"/live/events?format=json&stream_id=slow", "", gate)
	gate.pause()
	// The probe waits for one small event committed after the burst, on a
	// stream of its own: the hub publishes in commit order, so then the
	// burst is published too, and the probe never holds enough bytes to be
	// cut off itself.
	published := probeHub(t, st.hub, "probe", 1)
	w := syncWriter(t, db)
	insertBlobs(t, w, "slow", n, size)
	insertBlobs(t, w, "probe", 1, 16)
	<-published
	cutOff := st.hub.Stats().CutOff
	gate.resume()
	ids, resync = readRest(t, slow, n)
	if resync {
		_, more := <-slow.msgs
		ended = !more
	}
	if cutOff != st.hub.Stats().CutOff {
		t.Fatalf("cut off after the burst was published (%d, then %d)", cutOff, st.hub.Stats().CutOff)
	}
	return st.hub, ids, resync, ended
}

// 96 events of 256 KiB, sent whole: 24 MB, more than the sockets and the
// client's buffers hold, so the server's writes block while the client is
// paused; the window holds far less.
const burstEvents, burstSize = 96, 256 << 10

func TestLiveSlowReaderWithinBudgetGetsEverything(t *testing.T) {
	t.Parallel()
	n := burstEvents
	hub, ids, resync, _ := pausedThroughBurst(t, live.HubConfig{WindowBytes: 1 << 20, BufferBytes: 128 << 20, LargeEvent: 512 << 10}, n, burstSize)
	if resync || len(ids) != n || hub.Stats().CutOff != 0 {
		t.Fatalf("slow reader within budget: %d of %d events, resync %v, stats %+v", len(ids), n, resync, hub.Stats())
	}
}

func TestLiveCutOffSubscriberIsToldToResync(t *testing.T) {
	t.Parallel()
	n := burstEvents
	hub, ids, resync, ended := pausedThroughBurst(t, live.HubConfig{WindowBytes: 1 << 20, BufferBytes: 4 << 20, LargeEvent: 512 << 10}, n, burstSize)
	if hub.Stats().CutOff != 1 || !resync || len(ids) >= n || !ended {
		t.Fatalf("subscriber 24 MB behind a 4 MB budget: %d of %d events, then resync %v, stream ended %v; stats %+v",
			len(ids), n, resync, ended, hub.Stats())
	}
}

// The case first reported: a stream_id JSON subscriber that stopped reading
// while 40 events of 5 MB were committed got the first and then nothing.
func TestLivePausedSubscriberGetsEveryLargeEvent(t *testing.T) {
	t.Parallel()
	hub, ids, resync, _ := pausedThroughBurst(t, live.HubConfig{}, 40, 5<<20)
	if resync || len(ids) != 40 || hub.Stats().CutOff != 0 {
		t.Fatalf("paused subscriber: %d of 40 events, resync %v, stats %+v", len(ids), resync, hub.Stats())
	}
}

// Not parallel: it measures the process's memory. The clients are raw
// sockets (a few hundred bytes each); `auditd bench idle` measures the
// same with the clients in another process.
func TestLiveIdleConnectionCostsLittleMemory(t *testing.T) {
	hub := live.NewHub(live.HubConfig{})
	srv := New(testConfig, Deps{LiveHub: hub, LiveHeartbeat: time.Hour})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hub.Close(); hs.Close() })
	addr := strings.TrimPrefix(hs.URL, "http://")
	open := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 512)
		for !bytes.Contains(got, []byte(": subscribed")) {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("after %q: %v", got, err)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.Contains(got, []byte("Content-Type: text/event-stream")) {
			t.Fatalf("response head %q", got)
		}
		return c
	}
	open() // what the first request creates once is not a connection's cost
	used := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	before := used()
	const n = 500
	for range n {
		open()
	}
	waitSubscribers(t, hub, n+1)
	per := (float64(used()) - float64(before)) / n
	t.Logf("%.1f KB of heap and stacks per idle SSE connection", per/1024)
	if per > 16<<10 {
		t.Fatalf("an idle SSE connection costs %.1f KB of heap and stacks (at most 16 KB, for 25 KB resident)", per/1024)
	}
	// A connection the client closes ends its subscription at once.
	c := open()
	waitSubscribers(t, hub, n+2)
	c.Close()
	deadline := time.After(10 * time.Second)
	for hub.Stats().Subscribers > n+1 {
		select {
		case <-deadline:
			t.Fatalf("%d subscribers after a client left, want %d", hub.Stats().Subscribers, n+1)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
