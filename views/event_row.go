package views

import "time"

// EventRow is one event as the timeline, the global log and the live tail
// show it. The same component renders all three, and the SSE fragments.
type EventRow struct {
	Position int64
	// Ref is the event's address in /events/{ref}: its position, or its
	// event id on a table without positions.
	Ref string
	// Problems are what is wrong with the stored row (eventstore.Event).
	Problems      []string
	EventID       string
	StreamID      string
	StreamType    string
	Version       int
	EventType     string
	SchemaVersion int
	RecordedAt    time.Time
	Actor         string
	Source        string
	CorrelationID string
	CausationID   string
	// KeyFields are the payload's key fields, shown on the row's head.
	KeyFields     []KeyField
	Payload       string // pretty-printed stored payload
	Metadata      string // pretty-printed metadata
	UpcastPayload string // pretty-printed upcast payload, when it differs
	Changes       []Change
	FoldError     string
	ShowStream    bool // the global log and live tail name the stream
	New           bool // highlighted: just arrived live
	Expanded      bool // payload and metadata shown, not folded away
	// LargeBytes, when set, is the size of a payload and metadata too large
	// for a live fragment: the row links to the event page instead.
	LargeBytes int
	// PayloadCut, MetadataCut and UpcastCut mark previews: the value was
	// larger than what the page had left to show; PayloadBytes and
	// MetadataBytes are the stored sizes, the raw links serve them whole.
	PayloadCut, MetadataCut, UpcastCut bool
	PayloadBytes, MetadataBytes        int
	// ChangesHidden counts the changes not listed (the JSON has them all).
	ChangesHidden int
	// Backdated is how long before its commit the event was recorded, when
	// flagged (the witness ledger's commit time; 0: not flagged).
	Backdated time.Duration
}

// BackdatedText says how long before its commit an event was recorded:
// "recorded 3 h before it was committed".
func BackdatedText(d time.Duration) string {
	var n int64
	var unit string
	switch {
	case d >= 48*time.Hour:
		n, unit = int64(d/(24*time.Hour)), "days"
	case d >= time.Hour:
		n, unit = int64(d/time.Hour), "h"
	default:
		n, unit = int64(d/time.Minute), "min"
	}
	return "recorded " + I64(n) + " " + unit + " before it was committed"
}

// Change is one leaf change between two states (or made by one event).
type Change struct {
	Path      string
	Op        string // add, remove, replace
	Old       string // JSON text
	New       string // JSON text
	Version   int
	EventType string
	Actor     string
	At        time.Time
	// Masked: the values are personal data, shown as a placeholder.
	Masked bool
}

// Label names an event in a list: "#position", or the start of its event
// id on a table without positions.
func (r EventRow) Label() string { return EventLabel(r.Position, r.Ref) }

// EventLabel is the label of the event at position (ref: its address), for
// rows and pick lists alike.
func EventLabel(position int64, ref string) string {
	if position > 0 {
		return "#" + I64(position)
	}
	if len(ref) > 8 {
		return ref[:8] + "…"
	}
	return ref
}

// KeyField is one payload field a row shows inline: its name (a pointer's
// last token) and its value (strings bare, the rest as compact JSON).
type KeyField struct {
	Name  string
	Value string
}
