package views

import "time"

// StreamsVM is the stream search page.
type StreamsVM struct {
	// Filters as the form shows them.
	Q, Type, EventType, Actor, CorrelationID string
	From, To                                 string // datetime-local values, UTC
	Filtered                                 bool
	Types                                    TypeLists
	Rows                                     []StreamListRow
	// Pager links; empty when there is no such page.
	FirstURL, PrevURL, NextURL string
	// Partial: the page stopped at its scan budget; more may follow.
	Partial bool
}

// StreamListRow is one stream in the search results.
type StreamListRow struct {
	StreamID   string
	StreamType string
	Version    int
	FirstAt    time.Time
	LastAt     time.Time
	LastType   string
}

// TimelineVM is one stream's timeline page.
type TimelineVM struct {
	StreamID   string
	StreamType string
	Version    int // current version of the stream
	FirstAt    time.Time
	LastAt     time.Time
	Rows       []EventRow // ascending versions
	// Pager links; empty when there is no such page.
	FirstURL, OlderURL, NewerURL, LatestURL string
	// Live is set on the page that shows the stream's newest event: new
	// events are appended to it as they arrive.
	Live    bool
	LiveURL string
	// Jump form values and a notice about the jump (e.g. a time before the
	// first event).
	JumpVersion string
	JumpAt      string
	Notice      string
	// Time travel: the slider's initial version and the state panel's URL
	// base (/streams/{id}/state).
	SliderVersion int
	// SliderAt is the moment of the slider's state, for the "at time" box
	// (datetime-local, UTC): the time jumped to, or the event's.
	SliderAt    string
	StateURL    string
	ExportCSV   string
	ExportJSON  string
	DiffURL     string
	VerifyURL   string // the ledger verification; "" without a ledger
	EvidenceURL string // the signed evidence bundle; "" without a ledger
	// Highlight is the version the reader jumped to.
	Highlight int
	// Viewers are the other users who viewed the stream, for compliance
	// and admin (nil: the panel is not shown), and the access log of the
	// stream's views.
	Viewers       []StreamViewer
	ViewersLogURL string
}
