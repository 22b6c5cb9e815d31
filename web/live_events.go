package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/live"
	"github.com/auditd/auditd/views"
)

// Frame slots in live.Message: each message is encoded at most once per
// format, whatever the number of subscribers.
const (
	frameHTML = 0
	frameJSON = 1
)

// liveEvents is GET /live/events: the Server-Sent Events feed of committed
// events (filtered by stream_id, stream_type, event_type), tamper alerts and
// projection lag. Each event carries an id that resumes exactly after it
// (Last-Event-ID header or ?last_event_id=).
func (s *Server) liveEvents(c echo.Context) error {
	q := c.QueryParams()
	lf, err := parseLiveFilters(c)
	if err != nil {
		return err
	}
	filter := lf.filter()
	if types := q.Get("types"); types != "" {
		skip, err := skippedKinds(types)
		if err != nil {
			return err
		}
		filter.Skip = skip
	}
	slot := frameHTML
	switch f := q.Get("format"); f {
	case "", "html":
	case "json":
		slot = frameJSON
	default:
		return badRequest("format", "%q is not html or json", f)
	}
	var after *live.Cursor
	raw := c.Request().Header.Get("Last-Event-ID")
	if v := q.Get("last_event_id"); v != "" {
		raw = v
	}
	if raw != "" {
		cur, err := live.ParseCursor(raw)
		if err != nil {
			return badRequest("last_event_id", "%q is not a cursor from this feed", raw)
		}
		after = &cur
	}

	// Bad input is a 400 whether live is on or not.
	hub := s.deps.LiveHub
	if hub == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "live updates are off (--no-live, or wal_level is not logical)")
	}
	sub, err := hub.Subscribe(filter, after)
	var gap *live.Gap
	if errors.Is(err, live.ErrResync) && after != nil && s.deps.LiveResume != nil {
		// Older than the window: the ledger and the table fill the gap.
		if sub, gap, err = s.deps.LiveResume.Subscribe(c.Request().Context(), filter, *after); err != nil {
			s.logger.Info("live: cursor not resumable from the ledger", "cursor", after.String(), "error", err)
			err = live.ErrResync
		}
	}
	if err != nil && !errors.Is(err, live.ErrResync) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "live updates are shutting down")
	}
	out := s.openSSE(c)
	if err != nil { // ErrResync
		s.metrics.resyncs.Inc()
		_ = out.write(resyncFrame)
		out.close()
		return nil
	}
	f := &sseFeed{server: s, sub: sub, gap: gap, out: out, slot: slot, build: s.sseBuilder(c.Request().Context(), slot)}
	if out.hijacked {
		// The handler returns, and with it what net/http and Echo hold
		// for a request (its goroutine's deep stack, read and write
		// buffers, the request): an idle feed costs a few kilobytes.
		go f.run()
		return nil
	}
	f.run()
	return nil
}

// sseOut is where a feed writes: the hijacked connection, or the response
// when it cannot be hijacked (HTTP/2, test recorders).
type sseOut struct {
	write    func([]byte) error // whole frames; the stall deadline is per chunk
	flush    func() error
	gone     <-chan struct{} // closed when the client is gone
	close    func()
	hijacked bool
}

// openSSE sends the stream's header and returns the feed's writer.
func (s *Server) openSSE(c echo.Context) sseOut {
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // a proxy must not hold events back
	stall := s.deps.LiveWriteStall
	if stall <= 0 {
		stall = 30 * time.Second
	}
	// chunked writes b in pieces, each with its own deadline: the deadline
	// is on progress, so a client that reads slowly through a large backlog
	// is not taken for a stalled one.
	chunked := func(b []byte, deadline func(time.Time) error, write func([]byte) (int, error)) error {
		for len(b) > 0 {
			chunk := b[:min(len(b), sseWriteChunk)]
			_ = deadline(time.Now().Add(stall)) // unsupported by test recorders
			if _, err := write(chunk); err != nil {
				return err
			}
			b = b[len(chunk):]
		}
		return nil
	}
	rc := http.NewResponseController(w)
	if c.Request().ProtoMajor == 1 {
		h.Set("Connection", "close") // the body ends when the connection does
		if conn, brw, err := rc.Hijack(); err == nil && brw.Reader.Buffered() == 0 {
			w.Status, w.Committed = http.StatusOK, true // for the request log
			var head bytes.Buffer
			head.WriteString("HTTP/1.1 200 OK\r\n")
			_ = h.Write(&head)
			head.WriteString("\r\n")
			gone := make(chan struct{})
			go func() {
				// A GET has nothing more to read: this returns when the
				// client closes the connection (or the feed does).
				defer close(gone)
				var b [1]byte
				for {
					if _, err := conn.Read(b[:]); err != nil {
						return
					}
				}
			}()
			out := sseOut{
				write: func(b []byte) error { return chunked(b, conn.SetWriteDeadline, conn.Write) },
				flush: func() error { return nil }, // nothing is buffered
				gone:  gone,
				close: func() { _ = conn.Close() },
			}
			out.hijacked = out.write(head.Bytes()) == nil
			if !out.hijacked {
				out.close()
				out.gone = closedChan
			}
			return out
		} else if err == nil {
			// A pipelined request after the GET: rare; not worth keeping.
			_ = conn.Close()
			return sseOut{write: func([]byte) error { return net.ErrClosed }, flush: func() error { return net.ErrClosed }, gone: closedChan, close: func() {}}
		}
		h.Del("Connection")
	}
	w.WriteHeader(http.StatusOK)
	return sseOut{
		write: func(b []byte) error { return chunked(b, rc.SetWriteDeadline, w.Write) },
		flush: rc.Flush,
		gone:  c.Request().Context().Done(),
		close: func() { _ = rc.Flush() },
	}
}

// sseBatches are the feeds' write buffers (at most a chunk and a frame).
var sseBatches = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// send writes msgs and flushes. Small frames are gathered, up to a chunk,
// so that a slow client's backlog is never copied whole and a burst is not
// a syscall per frame. The buffer is shared between feeds: an idle one
// keeps none.
func (f *sseFeed) send(msgs []*live.Message) error {
	if len(msgs) == 0 {
		return f.out.flush()
	}
	batch := sseBatches.Get().(*bytes.Buffer)
	defer sseBatches.Put(batch)
	batch.Reset()
	for _, m := range msgs {
		fr := m.Frame(f.slot, f.build)
		if batch.Len() > 0 && batch.Len()+len(fr) > sseWriteChunk {
			if err := f.out.write(batch.Bytes()); err != nil {
				return err
			}
			batch.Reset()
		}
		if len(fr) >= sseWriteChunk {
			if err := f.out.write(fr); err != nil {
				return err
			}
			continue
		}
		batch.Write(fr)
	}
	if err := f.out.write(batch.Bytes()); err != nil {
		return err
	}
	return f.out.flush()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// sseFeed is one subscriber's feed: its backlog, then what the hub
// publishes, heartbeats between.
type sseFeed struct {
	server *Server
	sub    *live.Subscription
	gap    *live.Gap // what precedes sub's backlog, from the ledger; nil when none
	out    sseOut
	slot   int
	build  func(*live.Message) []byte
}

func (f *sseFeed) run() {
	s, sub, out := f.server, f.sub, f.out
	defer out.close()
	defer sub.Close()
	// The retry hint and an opening comment: EventSource reconnects after
	// 2 s, and clients (tests) know the subscription is in place.
	if err := out.write([]byte("retry: 2000\n: subscribed\n\n")); err != nil {
		return
	}
	if f.gap != nil {
		// The feed outlives the request (hijacked): the read ends when
		// the client goes.
		ctx, cancel := context.WithCancel(context.Background())
		stop := make(chan struct{})
		go func() {
			select {
			case <-out.gone:
				cancel()
			case <-stop:
			}
		}()
		err := f.gap.Fill(ctx, f.send)
		close(stop)
		cancel()
		if err != nil {
			s.logger.Warn("live: unable to resume from the ledger", "error", err)
			_ = out.write(resyncFrame)
			_ = out.flush()
			return
		}
		f.gap = nil
	}
	err := f.send(sub.Backlog)
	sub.Backlog = nil
	if err != nil {
		return
	}

	beat := s.deps.LiveHeartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	linger := s.deps.LiveLinger
	if linger == 0 {
		linger = time.Millisecond
	}
	var msgs []*live.Message
	heartbeat := time.NewTicker(beat)
	defer heartbeat.Stop()
	for {
		select {
		case <-out.gone:
			return
		case <-sub.Done():
			if sub.Reason() == live.ReasonSlow {
				s.metrics.resyncs.Inc()
				_ = out.write(resyncFrame)
				_ = out.flush()
			}
			return
		case <-heartbeat.C:
			if out.write([]byte(": heartbeat\n\n")) != nil || out.flush() != nil {
				return
			}
		case <-sub.Wake():
			// Let the burst this event belongs to arrive, then write it all
			// at once: at thousands of events per second and a hundred
			// clients, a syscall and a wake-up per event per client would
			// cost more than the events themselves.
			if linger > 0 {
				time.Sleep(linger)
			}
			msgs = sub.Take(msgs[:0])
			if len(msgs) == 0 {
				continue // cut off (Done is closed) or nothing new
			}
			err := f.send(msgs)
			clear(msgs)
			if err != nil {
				return
			}
			if cap(msgs) > 64 {
				msgs = nil // do not keep a burst's slice for an idle client
			}
		}
	}
}

// sseWriteChunk is the most written to a client at once (and the largest
// batch buffer a connection keeps).
const sseWriteChunk = 64 << 10

var resyncFrame = []byte("event: resync\ndata: the server could not keep this feed continuous: reload\n\n")

// sseBuilder returns the function that encodes a message as one SSE frame
// in the chosen format.
func (s *Server) sseBuilder(ctx context.Context, slot int) func(*live.Message) []byte {
	// Rendering must not depend on the first subscriber's request: the frame
	// is shared, so it gets a context that outlives that request.
	ctx = context.WithoutCancel(ctx)
	return func(m *live.Message) []byte {
		var data []byte
		var err error
		switch m.Kind {
		case live.KindEvent:
			if slot == frameJSON {
				data, err = json.Marshal(s.liveEvent(m))
			} else {
				row := s.liveEventRow(m)
				row.New = true
				var buf bytes.Buffer
				err = views.EventRowItem(row).Render(ctx, &buf)
				// A lone CR ends an SSE line: keep it as a character
				// reference so a stream id cannot forge SSE fields.
				data = bytes.ReplaceAll(buf.Bytes(), []byte("\r"), []byte("&#13;"))
			}
		case live.KindAlert:
			if slot == frameJSON {
				data, err = json.Marshal(m.Alert)
			} else {
				var buf bytes.Buffer
				err = views.LiveAlertBanner(alertBanner(m.Alert)).Render(ctx, &buf)
				data = buf.Bytes()
			}
		case live.KindLag:
			data, err = json.Marshal(m.Checkpoint)
		case live.KindStatus:
			data, err = json.Marshal(liveStatus(m.Connected))
		}
		if err != nil {
			s.logger.Error("web: unable to encode live message", "kind", m.Kind.String(), "error", err)
			data = []byte("{}")
		}
		return sseFrame(m, data)
	}
}

// sseFrame formats one SSE message. Data with line breaks becomes several
// data: lines, which the client joins back with "\n".
func sseFrame(m *live.Message, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + 64)
	if m.Kind == live.KindEvent {
		b.WriteString("id: ")
		b.WriteString(m.Cursor.String())
		b.WriteByte('\n')
	}
	b.WriteString("event: ")
	b.WriteString(m.Kind.String())
	b.WriteByte('\n')
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if len(data) == 0 {
		b.WriteString("data: \n")
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// liveStatusJSON is a status message: whether the feed's consumer streams
// from the database server.
type liveStatusJSON struct {
	Status  string `json:"status"` // "connected" or "disconnected"
	Message string `json:"message"`
}

func liveStatus(connected bool) liveStatusJSON {
	if connected {
		return liveStatusJSON{Status: "connected", Message: "the database is back"}
	}
	// The outage banner's text: static/app.js shows it in the header.
	return liveStatusJSON{Status: "disconnected", Message: outageBanner.Text}
}

// liveEventJSON is an event as the JSON feed and /live's JSON send it. An
// event above the hub's large-event size comes without payload and
// metadata, marked truncated, with where to read it whole.
type liveEventJSON struct {
	*eventstore.Event
	Truncated    bool   `json:"truncated,omitempty"`
	PayloadBytes int    `json:"payload_bytes,omitempty"`
	Href         string `json:"href,omitempty"`
}

func (s *Server) liveEvent(m *live.Message) liveEventJSON {
	j := liveEventJSON{Event: s.maskedEvent(m.Event)}
	if m.Large {
		j.Truncated, j.PayloadBytes = true, m.PayloadBytes
		j.Href = "/events/" + m.Event.Ref()
	}
	return j
}

// liveEventRow is the row of a live event: the compact one, linking to the
// event page, when the hub kept it without its data.
func (s *Server) liveEventRow(m *live.Message) views.EventRow {
	b := newPageBudget(maxPreview)
	b.display = s.display()
	row := eventRow(s.maskedEvent(m.Event), true, b)
	if m.Large {
		row.LargeBytes = m.PayloadBytes
	}
	return row
}

// LagFeedURL is the feed the projection panels listen to: checkpoint
// changes only.
const LagFeedURL = "/live/events?types=lag"

// skippedKinds turns ?types=lag,alert (the message types a client wants)
// into the kinds the hub skips for it. resync is always sent.
func skippedKinds(types string) ([]live.Kind, error) {
	want := map[live.Kind]bool{}
	for _, t := range strings.Split(types, ",") {
		switch strings.TrimSpace(t) {
		case "event":
			want[live.KindEvent] = true
		case "alert":
			want[live.KindAlert] = true
		case "lag":
			want[live.KindLag] = true
		case "resync":
		default:
			return nil, badRequest("types", "%q is not a comma-separated list of event, alert, lag", types)
		}
	}
	var skip []live.Kind
	for _, k := range []live.Kind{live.KindEvent, live.KindAlert, live.KindLag} {
		if !want[k] {
			skip = append(skip, k)
		}
	}
	return skip, nil
}
