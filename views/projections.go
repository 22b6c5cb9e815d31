package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ProjectionsVM is the projections page.
type ProjectionsVM struct {
	HeadPosition int64
	HeadAt       time.Time
	Panels       []ProjectionPanel
	Slots        []SlotPanel
	SlotsError   string
	Alerts       []Banner
	// LiveURL is the SSE endpoint sending `lag` messages; empty means the
	// panels refresh every second only.
	LiveURL string
	// Poll is the htmx polling interval of the panels ("1s"): time
	// passing turns panels stalled without any row changing.
	Poll       string
	Thresholds string // human summary of the thresholds
}

// ProjectionPanel is one projection's panel.
type ProjectionPanel struct {
	Name         string
	Status       string // caught-up, catching-up, stalled, failing, idle
	Position     int64
	NeverWrote   bool
	LagEvents    int64
	LagSeconds   float64
	Rate         string // "12.5/s" or "—"
	ETA          string // "2m 10s", "now", "—"
	ErrorCount   int
	LastError    string
	UpdatedAt    time.Time
	LastProgress string // "12s ago"
	NextPosition int64
	Anomalies    []string
	Alerts       []Banner
	Sparkline    Sparkline
	HasDrift     bool
}

// StatusClass maps a status to a badge class.
func (p ProjectionPanel) StatusClass() string { return StatusBadge(p.Status) }

// StatusBadge is the badge class of a projection status.
func StatusBadge(status string) string {
	switch status {
	case "caught-up":
		return "badge badge-ok"
	case "catching-up":
		return "badge badge-info"
	case "stalled":
		return "badge badge-warn"
	case "failing":
		return "badge badge-danger"
	}
	return "badge badge-muted"
}

// SlotPanel is one logical replication slot.
type SlotPanel struct {
	Name              string
	Plugin            string
	Active            bool
	ConfirmedFlushLSN string
	Retained          string // human-readable; "—" when unknown
	RetainedBytes     int64
	WALStatus         string
	SafeWAL           string
	Warn              bool
}

// Sparkline is a server-rendered inline SVG polyline.
type Sparkline struct {
	Width, Height int
	Points        string // "x,y x,y ..." for <polyline>
	Area          string // closed polygon under the line
	Max           string // label of the highest value
	Last          string // label of the newest value
	Empty         bool
}

// NewSparkline scales values (oldest first) into a w×h box; the y axis
// starts at 0 so a flat lag of 0 sits on the baseline.
func NewSparkline(values []float64, w, h int) Sparkline {
	s := Sparkline{Width: w, Height: h}
	if len(values) == 0 {
		s.Empty = true
		return s
	}
	if len(values) == 1 {
		// One point draws nothing: show it as a flat line.
		values = []float64{values[0], values[0]}
	}
	hi := 0.0
	for _, v := range values {
		hi = math.Max(hi, v)
	}
	pad := 2.0
	scaleY := func(v float64) float64 {
		if hi == 0 {
			return float64(h) - pad
		}
		return float64(h) - pad - v/hi*(float64(h)-2*pad)
	}
	var b strings.Builder
	step := 0.0
	if len(values) > 1 {
		step = float64(w) / float64(len(values)-1)
	}
	for i, v := range values {
		if i > 0 {
			b.WriteByte(' ')
		}
		x := step * float64(i)
		fmt.Fprintf(&b, "%.1f,%.1f", x, scaleY(v))
	}
	s.Points = b.String()
	s.Area = fmt.Sprintf("0.0,%d %s %d,%d", h, s.Points, w, h)
	s.Max = Compact(hi)
	s.Last = Compact(values[len(values)-1])
	return s
}

// Compact formats a number for labels: 950, 12.3k, 4.1M.
func Compact(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// Seconds formats a duration in seconds for people: 0s, 4.2s, 3m 05s, 2h 10m.
func Seconds(s float64) string {
	if s < 0 {
		s = 0
	}
	switch {
	case s < 10:
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	case s < 60:
		return strconv.FormatFloat(s, 'f', 0, 64) + "s"
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", int(s)/60, int(s)%60)
	case s < 86400:
		return fmt.Sprintf("%dh %02dm", int(s)/3600, int(s)%3600/60)
	}
	return fmt.Sprintf("%dd %02dh", int(s)/86400, int(s)%86400/3600)
}

// ProjectionDetailVM is /projections/{name}.
type ProjectionDetailVM struct {
	Panel        ProjectionPanel
	Window       string
	Windows      []string
	Chart        Chart
	Unprocessed  []EventRow
	HeadPosition int64
}

// Chart is the history chart: a larger sparkline with axis labels.
type Chart struct {
	Line     Sparkline
	From, To time.Time
	YMax     string
	Points   int
}

// DriftVM is /projections/{name}/drift.
type DriftVM struct {
	Projection string
	StreamType string
	Table      string
	Fields     []DriftField
	Checkpoint int64
	Checked    int
	Drifted    []DriftStream
	At         time.Time
	CSRFToken  string
}

// DriftField is one declared pointer → column mapping.
type DriftField struct{ Pointer, Column string }

// DriftStream is one drifted stream.
type DriftStream struct {
	StreamID   string
	Version    int
	MissingRow bool
	Fields     []DriftDiff
}

// DriftDiff is one field that differs.
type DriftDiff struct{ Pointer, Column, Expected, Actual string }

// DriftJobVM is a "check all" job's progress.
type DriftJobVM struct {
	Projection string
	ID         string
	Total      int64
	Done       int64
	Percent    int
	Finished   bool
	Error      string
	Truncated  bool
	Drifted    []DriftStream
}

// StreamProjectionsVM is the per-stream projection status fragment.
type StreamProjectionsVM struct {
	StreamID string
	Items    []StreamProjectionItem
}

// StreamProjectionItem is one projection's status for one stream.
type StreamProjectionItem struct {
	Projection   string
	Checkpoint   int64
	Processed    bool
	EventsBehind int64
	NeverWrote   bool
}

// Short80 shortens a long error message for a summary line.
func Short80(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	r := []rune(s)
	if len(r) <= 80 {
		return s
	}
	return string(r[:80]) + "…"
}

// BoolAttr formats a boolean for data attributes.
func BoolAttr(b bool) string { return strconv.FormatBool(b) }

// PluralWord picks the singular or plural word.
func PluralWord(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
