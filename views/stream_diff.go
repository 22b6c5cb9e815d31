package views

import "time"

// DiffVM is the side-by-side diff between two moments of a stream.
type DiffVM struct {
	StreamID   string
	StreamType string
	StreamURL  string
	// The form's values as given (v:N or a time).
	From, To                 string
	FromVersion, ToVersion   int
	FromAt, ToAt             time.Time // recorded_at of each side's last event
	FromBefore, ToBefore     bool      // a side is before the first event
	FromStateURL, ToStateURL string
	Rows                     []DiffRow
	Hidden                   int // changes not shown; the JSON has them all
	FromJSON, ToJSON         string
	FromJSONCut, ToJSONCut   bool   // previews: the state pages' JSON has them whole
	FormPath                 string // /streams/{id}/diff
	ShareURL                 string
	JSONURL                  string
	Notice                   string
	// The events between the two moments (at most a page of them) and
	// the fields whose changes there cancelled out.
	Events           []DiffEvent
	EventsTotal      int
	Cancelled        []CancelledVM
	CancelledPartial bool // only the first events in between were walked
}

// DiffEvent is one event between the two moments of a diff.
type DiffEvent struct {
	Version   int
	EventType string
	Actor     string
	Source    string
	At        time.Time
	URL       string // /events/{position}
}

// CancelledVM is a field that changed and came back: the values it went
// through, as compact JSON ("340", "-160", "340").
type CancelledVM struct {
	Path  string
	Steps []string
}

// DiffRow is one changed leaf.
type DiffRow struct {
	Path  string
	Op    string // add, remove, replace
	Old   string // compact JSON, empty for add
	New   string // compact JSON, empty for remove
	Blame *BlameVM
	// Masked: the values are personal data, shown as placeholders.
	Masked bool
}

// opBadge colours a change operation.
func opBadge(op string) string {
	switch op {
	case "add":
		return "badge-ok"
	case "remove":
		return "badge-danger"
	}
	return "badge-warn"
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Itoa(n) + " " + many
}
