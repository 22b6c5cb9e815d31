package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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

	vm := views.TimelineVM{
		StreamID: info.StreamID, StreamType: info.StreamType, Version: info.Version,
		FirstAt: info.FirstAt, LastAt: info.LastAt,
		StateURL:   streamPath(id, "/state"),
		ExportCSV:  streamPath(id, "/export.csv"),
		ExportJSON: streamPath(id, "/export.json"),
		DiffURL:    streamPath(id, "/diff") + "?from=v:1&to=v:" + views.Itoa(info.Version),
		LiveURL:    "/live/events?stream_id=" + url.QueryEscape(id),
	}
	if version > 0 {
		vm.JumpVersion = views.Itoa(version)
	}
	if hasAt {
		vm.JumpAt = formValue(at)
	}

	q := eventstore.StreamQuery{StreamID: id, Limit: limit}
	switch {
	case version > 0:
		if version > info.Version {
			return badRequest("version", "%d is past the stream's last version %d", version, info.Version)
		}
		q.After, vm.Highlight = version-1, version
	case hasAt:
		// One backward probe of the (stream_id, recorded_at) index.
		v, err := s.deps.Store.VersionAt(ctx, id, at)
		if err != nil {
			return err
		}
		if v == 0 {
			vm.Notice = fmt.Sprintf("No event was recorded at or before %s: the stream starts at %s. Showing its first events.",
				at.Format(time.RFC3339), info.FirstAt.UTC().Format(time.RFC3339))
		} else {
			q.After, vm.Highlight = v-1, v
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
	if q.Backward {
		slices.Reverse(events)
	}

	data := timelineJSON{Stream: info, Notice: vm.Notice, Events: []timelineEvent{}}
	first, last := 0, 0
	if len(events) > 0 {
		first, last = events[0].Version, events[len(events)-1].Version
		st, err := s.stateAfter(ctx, info, first-1)
		if err != nil {
			return err
		}
		vm.Rows, data.Events = s.stepRows(st, events, false)
	}
	self := streamPath(id, "")
	extra := ""
	if limit != pageSize {
		extra = "&limit=" + views.Itoa(limit)
	}
	if first > 1 {
		p := first
		data.Prev = &p
		vm.OlderURL = self + "?before=" + views.Itoa(first) + extra
		vm.FirstURL = self + "?after=0" + extra
	}
	if last > 0 && last < info.Version {
		n := last
		data.Next = &n
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
	return s.render(c, http.StatusOK, data, views.TimelinePage(s.chrome(c, info.StreamID, "streams"), vm))
}
