// Package live streams newly committed events to browsers. A Consumer
// decodes the event store's logical replication stream (pgoutput) and hands
// each committed transaction to a Hub, which keeps a bounded resume window in
// commit order and fans messages out to subscribers (the SSE handlers).
package live

import (
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// Kind is the type of a message sent to subscribers; it is the SSE event name.
type Kind uint8

const (
	KindEvent  Kind = iota // one committed event
	KindAlert              // a tamper alert
	KindLag                // a projection checkpoint changed
	KindResync             // continuity could not be kept: reload
	KindStatus             // the consumer lost or regained the database server
)

// String is the SSE event name.
func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindAlert:
		return "alert"
	case KindLag:
		return "lag"
	case KindStatus:
		return "status"
	default:
		return "resync"
	}
}

// Message is one thing sent to subscribers. Messages are shared by every
// subscriber and never modified after publication; encodings are memoised so
// that 100 subscribers cost one rendering.
type Message struct {
	Kind       Kind
	Cursor     Cursor            // KindEvent only
	Event      *eventstore.Event // KindEvent
	Alert      *Alert            // KindAlert
	Checkpoint *Checkpoint       // KindLag
	Connected  bool              // KindStatus: the consumer streams again
	At         time.Time         // when the hub received it
	// Large is set when the event's payload and metadata together exceeded
	// HubConfig.LargeEvent: the hub then keeps the event without them
	// (Event.Payload and Event.Metadata are nil) and feeds send a compact
	// reference to /events/{position} instead of the data. PayloadBytes is
	// their size as committed.
	Large        bool
	PayloadBytes int

	// size is what the message is counted as in the byte budgets: the
	// event and an allowance for its two rendered frames.
	size   int64
	frames [2]frame
}

type frame struct {
	once sync.Once
	b    []byte
}

// Frame returns the encoding number i (0 or 1, chosen by the caller, e.g.
// HTML and JSON) of m, building it once with build.
func (m *Message) Frame(i int, build func(*Message) []byte) []byte {
	f := &m.frames[i]
	f.once.Do(func() { f.b = build(m) })
	return f.b
}

// Checkpoint is a projection_checkpoints row as it was committed.
type Checkpoint struct {
	Projection string    `json:"projection"`
	Position   int64     `json:"position"`
	UpdatedAt  time.Time `json:"updated_at"`
	ErrorCount int       `json:"error_count"`
	LastError  *string   `json:"last_error"`
}

// Filter selects the events a subscriber receives. Empty fields match all.
// Alerts and lag messages are not filtered.
type Filter struct {
	StreamID   string
	StreamType string
	EventType  string
	// Skip lists message kinds the subscriber does not want (the lag
	// panels want only KindLag; a client may not want alerts). KindResync
	// cannot be skipped: it is how continuity breaks are told.
	Skip []Kind
}

func (f Filter) skips(k Kind) bool {
	return k != KindResync && slices.Contains(f.Skip, k)
}

func (f Filter) match(e *eventstore.Event) bool {
	if f.skips(KindEvent) {
		return false
	}
	return (f.StreamID == "" || f.StreamID == e.StreamID) &&
		(f.StreamType == "" || f.StreamType == e.StreamType) &&
		(f.EventType == "" || f.EventType == e.EventType)
}

// ErrResync is returned by Subscribe when the events after the cursor are no
// longer (or not yet known to be) in the resume window.
var ErrResync = errors.New("live: cursor is outside the resume window")

// HubConfig bounds the hub's memory, by count and by bytes: a few huge
// events must not cost what thousands of small ones would.
type HubConfig struct {
	// Window is how many events are kept for resuming clients (default 10000).
	Window int
	// WindowBytes bounds the window's size (default 64 MiB), counting each
	// event's data and its rendered frames.
	WindowBytes int64
	// MaxAge drops events older than this from the window (default 10 min):
	// the window is also what the replication slot retains, so on a quiet
	// events table it must not pin WAL for ever.
	MaxAge time.Duration
	// Buffer is how many matching events a subscriber may have unread
	// (default 4096, at most Window). Unread events are not copied per
	// subscriber: each keeps its place in the shared window, so a burst
	// costs no memory per client. Unread events that leave the window stay
	// referenced by the subscribers that still need them. A subscriber
	// further behind is cut off with a resync.
	Buffer int
	// BufferBytes is how many bytes of matching events a subscriber may have
	// unread (default 16 MiB): a slow reader is not cut off while its backlog
	// fits, and a stalled one holds no more than this.
	BufferBytes int64
	// LargeEvent is the payload plus metadata size above which an event is
	// kept without its data (default 64 KiB): feeds carry a reference to the
	// event page instead, so that a 5 MB event costs a few hundred bytes in
	// the window and in every frame.
	LargeEvent int
}

// Defaults of HubConfig's byte bounds.
const (
	DefaultWindowBytes = 64 << 20
	DefaultBufferBytes = 16 << 20
	DefaultLargeEvent  = 64 << 10
)

// messageSize is what one event counts for in the byte budgets: its data
// (payload and metadata twice more, for the HTML and JSON frames, which
// roughly double and keep it) and a fixed overhead for the rest.
func messageSize(e *eventstore.Event) int64 {
	data := len(e.Payload) + len(e.Metadata)
	return int64(3*data + 2*(len(e.StreamID)+len(e.StreamType)+len(e.EventType)+len(e.EventID)) + 1024)
}

// maxExtra bounds the alerts and lag messages queued for one subscriber.
const maxExtra = 256

// HubStats is the hub's state for metrics.
type HubStats struct {
	Subscribers int    `json:"subscribers"`
	Window      int    `json:"window"`
	WindowBytes int64  `json:"window_bytes"`
	CutOff      int64  `json:"cut_off"`
	Floor       string `json:"floor"`
	Last        string `json:"last"`
}

// Hub keeps the resume window and the subscribers. Safe for concurrent use.
type Hub struct {
	cfg HubConfig

	mu     sync.Mutex
	ring   []*Message // circular; ring[head] is the oldest of n
	head   int
	n      int
	bytes  int64  // size of the n messages of the ring
	seq    uint64 // sequence number of the next event appended; ring[head] has seq-n
	floor  Cursor // every event after floor is in the ring or still to come
	last   Cursor // newest published event; older re-deliveries are dropped
	subs   map[*Subscription]struct{}
	cutOff int64
	closed bool
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Window <= 0 {
		cfg.Window = 10000
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.WindowBytes <= 0 {
		cfg.WindowBytes = DefaultWindowBytes
	}
	if cfg.BufferBytes <= 0 {
		cfg.BufferBytes = DefaultBufferBytes
	}
	if cfg.LargeEvent <= 0 {
		cfg.LargeEvent = DefaultLargeEvent
	}
	return &Hub{cfg: cfg, ring: make([]*Message, cfg.Window), subs: map[*Subscription]struct{}{}}
}

// SetStart tells the hub that every transaction committing at or after lsn
// will be published (the slot's confirmed flush position when the consumer
// starts). Cursors before it cannot be resumed.
func (h *Hub) SetStart(lsn uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lsn == 0 {
		return
	}
	start := Cursor{LSN: lsn - 1, Index: math.MaxUint32}
	if h.floor.Less(start) {
		h.floor = start
	}
}

// PublishTx publishes the events of one committed transaction, in order.
// Events the hub already published (a resumed replication stream re-sends
// unconfirmed transactions) are dropped. It returns how many were new.
func (h *Hub) PublishTx(commitLSN uint64, events []eventstore.Event) int {
	return h.PublishTxPart(commitLSN, 0, events)
}

// PublishTxPart is PublishTx for a part of a transaction handed over in
// several (a spilled one, read back a chunk at a time): first is the index
// of events[0] in the transaction, and parts come in order.
func (h *Hub) PublishTxPart(commitLSN uint64, first int, events []eventstore.Event) int {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(now)
	added := 0
	for i := range events {
		c := Cursor{LSN: commitLSN, Index: uint32(first + i)}
		if !h.last.Less(c) || !h.floor.Less(c) {
			continue
		}
		m := h.newMessage(c, events[i], now)
		h.last = c
		if h.n == len(h.ring) {
			h.evictLocked()
		}
		h.ring[(h.head+h.n)%len(h.ring)] = m
		h.n++
		h.bytes += m.size
		h.seq++
		added++
		for s := range h.subs {
			if s.filter.match(m.Event) && s.after.Less(c) {
				s.pending++
				s.pendingBytes += m.size
			}
		}
		for h.bytes > h.cfg.WindowBytes && h.n > 1 {
			h.evictLocked()
		}
	}
	if added > 0 {
		for s := range h.subs {
			switch {
			case s.pending > h.cfg.Buffer || s.pendingBytes > h.cfg.BufferBytes:
				// One slow client must neither hold up the others nor make
				// the hub keep events for it.
				h.cutOff++
				h.removeLocked(s, ReasonSlow)
			case s.pending > 0:
				s.wakeUp()
			}
		}
	}
	return added
}

// newMessage wraps an event for subscribers, without its data when it is
// large.
func (h *Hub) newMessage(c Cursor, ev eventstore.Event, now time.Time) *Message {
	m := &Message{Kind: KindEvent, Cursor: c, Event: &ev, At: now}
	if n := len(ev.Payload) + len(ev.Metadata); n > h.cfg.LargeEvent {
		// The data stays in the database, one click away; the copy the
		// consumer decoded is released with its transaction.
		ev.Payload, ev.Metadata = nil, nil
		m.Large, m.PayloadBytes = true, n
	}
	m.size = messageSize(&ev)
	return m
}

// Broadcast sends an alert, lag or status message to every subscriber, whatever its
// filter. These are not kept for resuming clients: a reloaded page reads
// alerts and checkpoints from the database.
func (h *Hub) Broadcast(m *Message) {
	if m.At.IsZero() {
		m.At = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.filter.skips(m.Kind) {
			continue
		}
		if len(s.extra) >= maxExtra {
			h.cutOff++
			h.removeLocked(s, ReasonSlow)
			continue
		}
		s.extra = append(s.extra, m)
		s.wakeUp()
	}
}

func (h *Hub) removeLocked(s *Subscription, r Reason) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.reason = r
	s.extra = nil
	s.held = nil
	close(s.done)
}

// evictLocked drops the window's oldest message. Subscribers that have not
// read it yet keep it (a pointer each, counted in their byte budget), so
// that a slow or narrowly filtered reader loses nothing while it keeps up
// with its own budget.
func (h *Hub) evictLocked() {
	m := h.ring[h.head]
	q := h.seq - uint64(h.n) // m's sequence number
	for s := range h.subs {
		if s.pending > 0 && q >= s.next && s.filter.match(m.Event) && s.after.Less(m.Cursor) {
			s.held = append(s.held, m)
		}
	}
	h.ring[h.head] = nil
	h.head = (h.head + 1) % len(h.ring)
	h.n--
	h.bytes -= m.size
	if h.floor.Less(m.Cursor) {
		h.floor = m.Cursor
	}
}

func (h *Hub) expireLocked(now time.Time) {
	for h.n > 0 && now.Sub(h.ring[h.head].At) > h.cfg.MaxAge {
		h.evictLocked()
	}
}

// Expire drops events older than MaxAge from the window. The consumer calls
// it on its status timer so that a quiet table releases WAL.
func (h *Hub) Expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(time.Now())
}

// RetainFrom returns the commit LSN of the oldest event in the window, or 0
// when it is empty. The consumer never confirms past it, so that after a
// restart the slot re-sends the window and resuming clients miss nothing.
func (h *Hub) RetainFrom() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	return h.ring[h.head].Cursor.LSN
}

// Reason says why a subscription ended.
type Reason uint8

const (
	ReasonNone   Reason = iota
	ReasonSlow          // the subscriber fell behind: it must resync
	ReasonClosed        // the hub is shutting down or the subscriber left
)

// Subscription is one client's feed. Read Backlog first, then call Take
// each time Wake receives, until Done is closed.
type Subscription struct {
	// Backlog holds the window's events after the requested cursor.
	Backlog []*Message

	hub    *Hub
	wake   chan struct{} // capacity 1: "there is something to take"
	done   chan struct{}
	filter Filter
	after  Cursor // events at or before it are not delivered
	reason Reason
	// next is the window sequence number Take looks at next; pending counts
	// the matching events from there on (held ones included), pendingBytes
	// their size.
	next         uint64
	pending      int
	pendingBytes int64
	held         []*Message // unread events that already left the window, in order
	extra        []*Message // alerts and lag not yet taken
}

func (s *Subscription) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Wake receives when there may be messages to Take.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// Done is closed when the subscription ends; Reason then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason is why the subscription ended (valid once Done is closed).
func (s *Subscription) Reason() Reason {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.reason
}

// Close unsubscribes.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, ReasonClosed)
}

// Take appends to buf what was published since the last Take: alerts and
// lag first, then the matching events in commit order.
func (s *Subscription) Take(buf []*Message) []*Message {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return buf
	}
	oldest := h.seq - uint64(h.n)
	buf = append(buf, s.extra...)
	clear(s.extra)
	s.extra = s.extra[:0]
	buf = append(buf, s.held...)
	s.held = nil
	if s.pending > 0 {
		for q := max(s.next, oldest); q < h.seq; q++ {
			m := h.ring[(h.head+int(q-oldest))%len(h.ring)]
			if s.filter.match(m.Event) && s.after.Less(m.Cursor) {
				buf = append(buf, m)
			}
		}
	}
	s.next, s.pending, s.pendingBytes = h.seq, 0, 0
	return buf
}

// Subscribe registers a subscriber. With after nil it receives what is
// published from now on. With a cursor it first receives, in Backlog, every
// matching event committed after it, then the live feed, with no gap and no
// duplicate; ErrResync when the window no longer reaches back to the cursor.
func (h *Hub) Subscribe(f Filter, after *Cursor) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &Subscription{hub: h, wake: make(chan struct{}, 1), done: make(chan struct{}), filter: f, next: h.seq}
	if after == nil {
		s.after = h.last
	} else {
		if after.Less(h.floor) {
			return nil, ErrResync
		}
		s.after = *after
		for i := range h.n {
			m := h.ring[(h.head+i)%len(h.ring)]
			if s.after.Less(m.Cursor) && f.match(m.Event) {
				s.Backlog = append(s.Backlog, m)
			}
		}
		// The backlog covers everything up to h.last. A cursor ahead of it
		// (a client resuming before a restarted consumer caught up) stays,
		// so that what the slot re-sends is not delivered twice.
		if s.after.Less(h.last) {
			s.after = h.last
		}
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// SubscribeAtFloor is Subscribe for a cursor the window no longer reaches
// (Subscribe returned ErrResync): the subscription starts after the
// window's floor instead, and the floor is returned, so that the caller
// fills the events after the cursor up to it from elsewhere (the ledger).
func (h *Hub) SubscribeAtFloor(f Filter) (*Subscription, Cursor, error) {
	h.mu.Lock()
	floor := h.floor
	h.mu.Unlock()
	// The floor only moves forward; a subscription at an older floor
	// would fail, so take it again until it holds.
	for {
		s, err := h.Subscribe(f, &floor)
		if err == nil {
			return s, floor, nil
		}
		if !errors.Is(err, ErrResync) {
			return nil, Cursor{}, err
		}
		h.mu.Lock()
		floor = h.floor
		h.mu.Unlock()
	}
}

// Recent returns up to n of the newest matching events of the window,
// oldest first, for a page's first render; the page then resumes the feed
// after the last of them.
func (h *Hub) Recent(f Filter, n int) []*Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Message
	for i := h.n - 1; i >= 0 && len(out) < n; i-- {
		if m := h.ring[(h.head+i)%len(h.ring)]; f.match(m.Event) {
			out = append(out, m)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("live: hub is closed")

// Close ends every subscription (their handlers return, so the HTTP server
// can shut down) and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.removeLocked(s, ReasonClosed)
	}
}

// Stats reports the hub's state.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HubStats{Subscribers: len(h.subs), Window: h.n, WindowBytes: h.bytes, CutOff: h.cutOff, Floor: h.floor.String(), Last: h.last.String()}
}
