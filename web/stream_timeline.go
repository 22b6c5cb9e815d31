package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// timelineJSON is the timeline's JSON shape. Next and Prev are version
// cursors: ?after=<next> is the following (newer) page, ?before=<prev> the
// preceding (older) one; null at either end.
type timelineJSON struct {
	Stream eventstore.StreamInfo `json:"stream"`
	Events []timelineEvent       `json:"events"`
	Next   *int                  `json:"next"`
	Prev   *int                  `json:"prev"`
	Notice string                `json:"notice,omitempty"`
	// BytesCut: the page holds fewer events than asked, having reached
	// its byte cap; the next cursor reads on.
	BytesCut bool `json:"bytes_cut,omitempty"`
}

// showTimeline is one stream's events in version order, a page at a time
// (keyset on version both ways), each with what it changed in the state.
// Without a cursor it shows the newest page, which new events are appended
// to live. ?version=N and ?at=<time> jump to the page starting at that
// event.
func (s *Server) showTimeline(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := streamIDParam(c)
	if err != nil {
		return err
	}
	given := 0
	for _, p := range []string{"after", "before", "version", "at"} {
		if c.QueryParam(p) != "" {
			given++
		}
	}
	if given > 1 {
		return badRequest("after", "use only one of after, before, version and at")
	}
	after, err := queryInt(c, "after")
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before")
	if err != nil {
		return err
	}
	version, err := queryInt(c, "version")
	if err != nil {
		return err
	}
	at, err := queryTime(c, "at")
	if err != nil {
		return err
	}
	// The zero time is a time too (before every event), not "no time".
	hasAt := strings.TrimSpace(c.QueryParam("at")) != ""
	limit, err := queryLimit(c, eventstore.MaxPageSize)
	if err != nil {
		return err
	}
	info, err := s.deps.Store.Stream(ctx, id)
	if err != nil {
		return err
	}

	r := timelineResult{info: info, version: version, at: at, hasAt: hasAt, limit: limit, verify: s.deps.Ledger != nil}
	q := eventstore.StreamQuery{StreamID: id, Limit: limit}
	switch {
	case version > 0:
		if version > info.Version {
			return badRequest("version", "%d is past the stream's last version %d", version, info.Version)
		}
		q.After, r.highlight = jumpStart(version, limit), version
	case hasAt:
		// One backward probe of the (stream_id, recorded_at) index.
		v, err := s.deps.Store.VersionAt(ctx, id, at)
		if err != nil {
			return err
		}
		if v == 0 {
			r.notice = fmt.Sprintf("No event was recorded at or before %s: the stream starts at %s. Showing its first events.",
				at.Format(time.RFC3339), info.FirstAt.UTC().Format(time.RFC3339))
		} else {
			q.After, r.highlight = jumpStart(v, limit), v
		}
	case before > 0:
		q.Backward, q.Before = true, before
	case c.QueryParams().Has("after"):
		q.After = after
	default:
		q.Backward = true // the newest page
	}
	events, err := s.deps.Store.ReadStream(ctx, q)
	if err != nil {
		return err
	}
	// Cut in reading order: the events left out are the ones the pager's
	// next link (older or newer) starts at.
	if events, r.bytesCut = byteCapped(events); r.bytesCut {
		r.notice = strings.TrimSpace(r.notice + " " + byteCapNotice(len(events)))
	}
	if q.Backward {
		slices.Reverse(events)
	}
	if len(events) > 0 {
		st, err := s.stateAfter(ctx, info, events[0].Version-1)
		if err != nil {
			return err
		}
		r.steps = s.eventSteps(st, events)
		s.maskSteps(r.steps)
		if err := s.markBackdated(ctx, id, r.steps); err != nil {
			return err
		}
	}
	if r.viewers, err = s.streamViewers(c, id); err != nil {
		return err
	}
	if err := s.recordAccess(c, access.AccessEntry{Kind: access.KindStream, StreamID: id, Window: versionWindow(r.bounds()), Filters: queryFilters(c)}); err != nil {
		return err
	}
	return s.renderResult(c, http.StatusOK, info.StreamID, "streams", r)
}

// jumpContext is how many events before a jump's target its page shows,
// so that what led up to the event is on the page, above it (the older
// pager reaches the rest).
const jumpContext = 5

// jumpStart is the version a jump to version v reads after.
func jumpStart(v, limit int) int {
	return max(0, v-1-min(jumpContext, limit/2))
}

// timelineResult is what the timeline computed: a page of the stream's
// events folded, and the jump (version or time) that chose it.
type timelineResult struct {
	info      eventstore.StreamInfo
	steps     []eventStep
	version   int // ?version, 0 when not given
	at        time.Time
	hasAt     bool
	limit     int
	highlight int // the version jumped to, 0 for none
	notice    string
	bytesCut  bool                 // fewer events than limit: they reached maxPageEventBytes
	verify    bool                 // the ledger can verify the stream
	viewers   []views.StreamViewer // who else viewed it; nil: not shown to this role
}

// bounds are the first and last versions of the page (0, 0 when empty).
func (r timelineResult) bounds() (first, last int) {
	if len(r.steps) == 0 {
		return 0, 0
	}
	return r.steps[0].event.Version, r.steps[len(r.steps)-1].event.Version
}

func (r timelineResult) toJSON() any {
	data := timelineJSON{Stream: r.info, Notice: r.notice, Events: stepsJSON(r.steps), BytesCut: r.bytesCut}
	first, last := r.bounds()
	if first > 1 {
		data.Prev = &first
	}
	if last > 0 && last < r.info.Version {
		data.Next = &last
	}
	return data
}

func (r timelineResult) toView(chrome views.Chrome) templ.Component {
	info, id := r.info, r.info.StreamID
	vm := views.TimelineVM{
		StreamID: info.StreamID, StreamType: info.StreamType, Version: info.Version,
		FirstAt: info.FirstAt, LastAt: info.LastAt,
		StateURL:   streamPath(id, "/state"),
		ExportCSV:  streamPath(id, "/export.csv"),
		ExportJSON: streamPath(id, "/export.json"),
		DiffURL:    streamPath(id, "/diff") + "?from=v:1&to=v:" + views.Itoa(info.Version),
		LiveURL:    "/live/events?stream_id=" + url.QueryEscape(id),
		Highlight:  r.highlight, Notice: r.notice, Rows: stepRows(r.steps, false, rowBudget(chrome, maxPreview)),
	}
	if r.verify {
		vm.VerifyURL = streamPath(id, "/verify")
		vm.EvidenceURL = streamPath(id, "/evidence")
	}
	vm.Viewers, vm.ViewersLogURL = r.viewers, "/access-log?stream="+url.QueryEscape(id)
	if r.version > 0 {
		vm.JumpVersion = views.Itoa(r.version)
	}
	if r.hasAt {
		vm.JumpAt = formValue(r.at)
	}
	first, last := r.bounds()
	self := streamPath(id, "")
	extra := ""
	if r.limit != pageSize {
		extra = "&limit=" + views.Itoa(r.limit)
	}
	if first > 1 {
		vm.OlderURL = self + "?before=" + views.Itoa(first) + extra
		vm.FirstURL = self + "?after=0" + extra
	}
	if last > 0 && last < info.Version {
		vm.NewerURL = self + "?after=" + views.Itoa(last) + extra
		vm.LatestURL = self
		if extra != "" {
			vm.LatestURL += "?" + extra[1:]
		}
	}
	// Only the page that ends at the stream's head grows live: elsewhere an
	// appended event would leave a gap.
	vm.Live = last == 0 || last >= info.Version
	vm.SliderVersion = info.Version
	if vm.Highlight > 0 {
		vm.SliderVersion = vm.Highlight
	} else if last > 0 {
		vm.SliderVersion = last
	}
	// The "at time" box shows the moment chosen: the time jumped to, else
	// the recorded time of the slider's event.
	if r.hasAt {
		vm.SliderAt = formDateTime(r.at)
	} else {
		for _, st := range r.steps {
			if st.event.Version == vm.SliderVersion {
				vm.SliderAt = formDateTime(st.event.RecordedAt)
			}
		}
	}
	return views.TimelinePage(chrome, vm)
}
