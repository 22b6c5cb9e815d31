package views

import "time"

// EventsVM is the global log page.
type EventsVM struct {
	// Filters as the form shows them.
	StreamID, StreamType, EventType, Actor, CorrelationID string
	StreamPrefix                                          string // stream_id_prefix, kept as a hidden field
	From, To                                              string // datetime-local values, UTC
	Types                                                 TypeLists
	Filtered                                              bool
	Rows                                                  []EventRow // newest first
	// Notice says why the page holds fewer rows than asked (its byte cap).
	Notice string
	// Pager links; empty when there is no such page.
	NewestURL, NewerURL, OlderURL string
	// Live is set on the newest page: new matching events are inserted at
	// the top as they arrive, from LiveURL.
	Live    bool
	LiveURL string
}

// EventDetailVM is one event's page.
type EventDetailVM struct {
	Row     EventRow
	EventID string
	// Masked are the placeholders of its masked payload and metadata
	// fields (shown masked in the row).
	Masked []MaskVM
	// Causes are the causation chain upwards, root first; Effects the
	// events it caused, breadth first, with their depth.
	Causes  []ChainItem
	Effects []ChainItem
	// Correlated are the events sharing its correlation id, in log order
	// (it is among them, marked Self).
	CorrelationID       string
	Correlated          []ChainItem
	CorrelatedTruncated bool
	CorrelatedStreams   int
}

// ChainItem is one event in a causation chain or correlation list.
type ChainItem struct {
	Position   int64
	Ref        string // the event's address (see EventRow.Ref)
	StreamID   string
	StreamType string
	Version    int
	EventType  string
	Actor      string
	Source     string
	RecordedAt time.Time
	Depth      int
	Self       bool
}

// Label names the item like EventRow.Label.
func (it ChainItem) Label() string { return EventLabel(it.Position, it.Ref) }
