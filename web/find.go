package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/views"
)

// findStreams is how many streams matching part of their id the find page
// lists before it links to the stream search for the rest.
const findStreams = 10

// findMatch is one thing a header search names.
type findMatch struct {
	Kind  string `json:"kind"` // stream, event, correlation
	Label string `json:"label"`
	URL   string `json:"url"`
	// Exact: the text is this thing's whole id (not part of a stream id).
	Exact bool `json:"exact"`
}

// findResult is what the header search found for q.
type findResult struct {
	Q       string      `json:"q"`
	Matches []findMatch `json:"matches"`
	// More: more streams contain q than are listed; MoreURL searches them.
	More    bool   `json:"more"`
	MoreURL string `json:"more_url,omitempty"`
}

// find is the header search box: a stream id, an event id, a position or
// a correlation id goes straight to its page. Whole ids are tried first;
// only when none is one does q count as part of a stream id (any case).
// Several matches get a short page to choose from, streams first; none a
// page that says what can be typed.
func (s *Server) find(c echo.Context) error {
	q, err := queryText(c, "q")
	if err != nil {
		return err
	}
	r := findResult{Q: q, Matches: []findMatch{}}
	if q != "" {
		if r, err = s.findAll(c.Request().Context(), q); err != nil {
			return err
		}
	}
	if len(r.Matches) == 1 && !r.More && !wantsJSON(c) {
		return c.Redirect(http.StatusSeeOther, r.Matches[0].URL)
	}
	status := http.StatusOK
	if q != "" && len(r.Matches) == 0 {
		status = http.StatusNotFound
	}
	return s.renderResult(c, status, "Find", "", r)
}

// findAll looks q up as every kind of id, streams first.
func (s *Server) findAll(ctx context.Context, q string) (findResult, error) {
	r := findResult{Q: q, Matches: []findMatch{}}
	st := s.deps.Store
	if si, err := st.Stream(ctx, q); err == nil {
		r.Matches = append(r.Matches, findMatch{Kind: "stream", Label: si.StreamID, URL: "/streams/" + url.PathEscape(si.StreamID), Exact: true})
	} else if !errors.Is(err, eventstore.ErrStreamNotFound) {
		return r, err
	}
	if eventstore.IsEventID(q) {
		if e, err := st.EventByID(ctx, q); err == nil {
			r.Matches = append(r.Matches, eventMatch(e))
		} else if !errors.Is(err, eventstore.ErrEventNotFound) {
			return r, err
		}
	}
	if pos, err := strconv.ParseInt(strings.TrimPrefix(q, "#"), 10, 64); err == nil && pos > 0 {
		if e, err := st.Event(ctx, pos); err == nil {
			r.Matches = append(r.Matches, eventMatch(e))
		} else if !errors.Is(err, eventstore.ErrEventNotFound) {
			return r, err
		}
	}
	if evs, err := st.ReadLog(ctx, eventstore.LogQuery{CorrelationID: q, Limit: 1}); err != nil {
		return r, err
	} else if len(evs) > 0 {
		r.Matches = append(r.Matches, findMatch{Kind: "correlation", Label: q,
			URL: "/events?" + url.Values{"correlation_id": {q}}.Encode(), Exact: true})
	}
	if len(r.Matches) > 0 {
		return r, nil
	}
	page, err := st.SearchStreams(ctx, eventstore.StreamSearch{Match: q, Limit: findStreams})
	if err != nil {
		return r, err
	}
	for _, si := range page.Streams {
		r.Matches = append(r.Matches, findMatch{Kind: "stream", Label: si.StreamID, URL: "/streams/" + url.PathEscape(si.StreamID)})
	}
	if page.Next != "" {
		r.More, r.MoreURL = true, "/streams?"+url.Values{"q": {q}}.Encode()
	}
	return r, nil
}

func eventMatch(e eventstore.Event) findMatch {
	return findMatch{Kind: "event", Label: views.EventLabel(e.Position, e.Ref()) + " " + e.EventType + " in " + e.StreamID,
		URL: "/events/" + e.Ref(), Exact: true}
}

func (r findResult) toJSON() any { return r }

func (r findResult) toView(ch views.Chrome) templ.Component {
	vm := views.FindVM{Q: r.Q, MoreURL: r.MoreURL}
	for _, m := range r.Matches {
		vm.Matches = append(vm.Matches, views.FindMatch{Kind: m.Kind, Label: m.Label, URL: m.URL, Exact: m.Exact})
	}
	return views.FindPage(ch, vm)
}
