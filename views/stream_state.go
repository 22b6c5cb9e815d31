package views

import "time"

// StateVM is a stream's state at one moment, with blame: the full page
// (/streams/{id}/state) and the timeline's state panel fragment.
type StateVM struct {
	StreamID    string
	StreamType  string
	StreamURL   string // the timeline
	Version     int    // version of the state; 0 before the first event
	HeadVersion int    // the stream's current version
	// At is the recorded_at of the event at Version; RequestedAt the time
	// asked for (zero for a version request).
	At          time.Time
	RequestedAt time.Time
	// BeforeFirst: the moment is before the stream's first event; the
	// state is empty.
	BeforeFirst bool
	Notice      string
	Rows        []StateRow
	Hidden      int // rows not shown (a huge state); the JSON has them all
	Errors      []FoldErrorVM
	// DroppedErrors counts fold errors beyond the ones kept.
	DroppedErrors int
	JSON          string // the state document, indented
	JSONCut       bool   // JSON is a preview: JSONURL has it whole
	// Links.
	SelfURL     string // this state's page (shareable)
	JSONURL     string
	TimelineURL string // the timeline at this version
	DiffURL     string // diff from this state to the latest
	PrevURL     string // one version earlier (empty at 0)
	NextURL     string // one version later (empty at the head)
	// Form values of the full page.
	FormPath    string // /streams/{id}/state
	FormAt      string // datetime-local, UTC
	FormVersion string
}

// StateRow is one node of the state tree, in document order: objects and
// arrays open a level, leaves carry a value and their blame.
type StateRow struct {
	Depth int
	Key   string // member name or array index
	Path  string // RFC 6901 pointer
	Kind  string // "object", "array" or "leaf"
	Value string // compact JSON of a leaf
	Size  int    // members or elements of a container
	Blame *BlameVM
	// Mask is set when the leaf is a masked value: its placeholder.
	Mask *MaskVM
}

// BlameVM is the event that last set a leaf.
type BlameVM struct {
	Version   int
	EventType string
	Actor     string
	Source    string // the event's `source` metadata: which API, job or tool
	At        time.Time
	EventURL  string // /events/{position}
}

// FoldErrorVM is a reducer rule or upcaster that failed at an event.
type FoldErrorVM struct {
	Version   int
	EventType string
	Where     string // "rule 0 (inc /balance)", "upcast", …
	Message   string
	URL       string // the timeline at that event
}

// orDash is s, or "—" when empty (an event without an actor).
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
