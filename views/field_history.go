package views

import "time"

// FieldHistoryVM is every value one field of a stream's state took, a
// page of it: versions (From, Through].
type FieldHistoryVM struct {
	StreamID    string
	StreamType  string
	StreamURL   string
	StateURL    string // /streams/{id}/state
	Path        string
	Points      []FieldPointVM
	Chart       *StepChart // nil: no value is a number
	From        int
	Through     int
	HeadVersion int
	NextURL     string // the next page; empty at the stream's end
	FirstURL    string // the first page; empty on it
	JSONURL     string
}

// FieldPointVM is one value of the field, after the event at Version.
type FieldPointVM struct {
	Version   int
	At        time.Time
	Value     string // compact JSON; empty when Removed
	Removed   bool
	Carried   bool // the value where the page starts, not a change
	EventType string
	Actor     string
	Source    string
	EventURL  string
}

// StepChart is a field's numeric values as an SVG step chart, drawn on
// the server: Path is the line, in user units of a Width × Height box.
type StepChart struct {
	Width, Height            int
	Title, Desc              string
	Path                     string
	Dots                     []ChartDot
	YTop, YBottom            string // value labels of the top and bottom
	XStart, XEnd             string // time labels of the left and right
	Left, Right, Top, Bottom int    // the plot area
	ZeroY                    string // y of the zero line
}

// ChartDot marks one value, with its label as a tooltip.
type ChartDot struct {
	X, Y  string
	Label string
}
