package eventstore

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// StreamSearch selects a page of streams, ordered by id in byte order.
// Stream-level filters (Prefix, StreamType) select streams directly; event
// level filters (EventType, Actor, CorrelationID, From/To) keep the streams
// that have at least one event matching all of them.
type StreamSearch struct {
	// Match keeps streams whose id contains it, in any case (through the
	// stream catalogue); Prefix keeps ids starting with it, exactly.
	Match         string
	Prefix        string
	StreamType    string
	EventType     string
	Actor         string
	CorrelationID string
	From, To      time.Time // recorded_at range of a matching event, inclusive; zero = open
	// Keyset cursors on the stream id: After pages forward, Before pages
	// backward (the page just before that id). At most one may be set.
	After  string
	Before string
	Limit  int
}

// HasEventFilters reports whether the search needs to look at events, not
// only at stream heads.
func (q StreamSearch) HasEventFilters() bool {
	return q.EventType != "" || q.Actor != "" || q.CorrelationID != "" || !q.From.IsZero() || !q.To.IsZero()
}

// StreamPage is one page of a stream search.
type StreamPage struct {
	Streams []StreamInfo `json:"streams"`
	// Next is the cursor (After) of the following page, "" at the end.
	Next string `json:"next"`
	// Prev is the cursor (Before) of the preceding page, "" at the start.
	Prev string `json:"prev"`
	// Partial is set when the page stopped at the scan budget before
	// filling up: more matches may follow from Next.
	Partial bool `json:"partial"`
}

// Bounds of the event-filtered stream search. selectiveEvents is how many
// matching events a search reads directly from the filter's index before it
// decides the filter is too broad for that; headBudget is how many stream
// heads one page may probe when it walks the streams instead.
const (
	selectiveEvents = 10_000
	headBudget      = 5_000
)

// SearchStreams finds streams. Without event filters it walks the partial
// index of stream heads (version = 1). With event filters it picks one of two
// bounded plans: when at most selectiveEvents events match (a correlation id,
// a customer's actor, a narrow time range) it reads their distinct stream
// ids from the filter's own index; otherwise matches are common, and it
// walks stream heads in id order, probing each stream's own events with an
// EXISTS on (stream_id, …) indexes, up to headBudget heads per page. Every
// request therefore does bounded work on a store of any size.
func (s *Store) SearchStreams(ctx context.Context, q StreamSearch) (StreamPage, error) {
	if q.After != "" && q.Before != "" {
		return StreamPage{}, fmt.Errorf("%w: after and before are exclusive", ErrInvalidCursor)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return StreamPage{}, fmt.Errorf("eventstore: time range ends before it starts")
	}
	limit := pageSize(q.Limit)
	if q.HasEventFilters() {
		n, err := s.countMatchingEvents(ctx, q, selectiveEvents+1)
		if err != nil {
			return StreamPage{}, err
		}
		if n <= selectiveEvents {
			return s.searchByEvents(ctx, q, limit)
		}
	}
	return s.searchByHeads(ctx, q, limit)
}

// eventFilters adds the event-level filters the log and the stream search
// share; empty values (zero times) filter nothing.
func (p *predicates) eventFilters(eventType, actor, correlationID string, from, to time.Time) {
	if eventType != "" {
		p.eq("event_type", eventType)
	}
	if actor != "" {
		p.metaEq(MetaActor, actor)
	}
	if correlationID != "" {
		p.metaEq(MetaCorrelationID, correlationID)
	}
	if !from.IsZero() {
		p.cmp("recorded_at", ">=", from)
	}
	if !to.IsZero() {
		p.cmp("recorded_at", "<=", to)
	}
}

// searchFilters adds q's event-level filters to p.
func (p *predicates) searchFilters(q StreamSearch) {
	p.eventFilters(q.EventType, q.Actor, q.CorrelationID, q.From, q.To)
}

// streamFilters adds q's stream-level filters and its cursor to p, and
// returns the order the cursor reads in.
func (p *predicates) streamFilters(q StreamSearch) (order string) {
	if q.Prefix != "" {
		p.streamIDPrefix(q.Prefix)
	}
	if q.Match != "" {
		p.conds = append(p.conds, p.sc.col(p.alias, "stream_id")+"::text ILIKE "+p.arg(matchPattern(q.Match)))
	}
	if q.StreamType != "" {
		p.eq("stream_type", q.StreamType)
	}
	switch {
	case q.After != "":
		p.streamIDCmp(">", q.After)
	case q.Before != "":
		p.streamIDCmp("<", q.Before)
		return "DESC"
	}
	return "ASC"
}

// countMatchingEvents counts the events matching q's filters, stopping at
// upTo: it only tells "few" from "many", reading at most upTo index entries.
func (s *Store) countMatchingEvents(ctx context.Context, q StreamSearch, upTo int) (int, error) {
	w := s.sc.where("e")
	w.searchFilters(q)
	if q.StreamType != "" {
		w.eq("stream_type", q.StreamType)
	}
	sql := w.in(`SELECT count(*) FROM (SELECT 1 FROM {events} e WHERE {where}`) + ` LIMIT ` + w.arg(upTo) + `) m`
	var n int
	if err := s.db.QueryRow(ctx, sql, w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("eventstore: unable to list streams: %w", err)
	}
	return n, nil
}

// searchByEvents reads the distinct stream ids of the (few) matching events,
// then each stream's summary.
func (s *Store) searchByEvents(ctx context.Context, q StreamSearch, limit int) (StreamPage, error) {
	w := s.sc.where("e")
	w.searchFilters(q)
	order := w.streamFilters(q)
	sql := w.in(`WITH m AS (
		SELECT DISTINCT {e.stream_id}{collate} AS stream_id FROM {events} e
		WHERE {where}
		ORDER BY 1 `+order) + ` LIMIT ` + w.arg(limit+1) + `
	)` + s.sc.expand(streamInfoSQL+` JOIN m ON m.stream_id = {h.stream_id} WHERE {h.version} = 1
		ORDER BY {h.stream_id}{collate} `+order)
	streams, err := s.queryStreamInfos(ctx, sql, w.args)
	if err != nil {
		return StreamPage{}, err
	}
	return pageOf(q, streams, limit), nil
}

// searchByHeads walks stream heads in id order and keeps those with a
// matching event (or all of them without event filters). It probes at most
// headBudget heads; a page that runs out of budget is Partial and its Next
// cursor resumes after the last head probed.
func (s *Store) searchByHeads(ctx context.Context, q StreamSearch, limit int) (StreamPage, error) {
	w := s.sc.where("c")
	w.cond("{version} = 1")
	order := w.streamFilters(q)
	budget := limit + 1
	filtered := q.HasEventFilters()
	if filtered {
		budget = headBudget
	}
	var candidates string
	if q.Match != "" {
		// Anywhere in the id: the catalogue's trigram index, not the heads.
		w = s.sc.where("c")
		candidates = s.catalogueCandidates(w, q, order, budget)
	} else {
		candidates = w.in(`SELECT {c.stream_id}{collate} AS stream_id FROM {events} c WHERE {where}
		ORDER BY {c.stream_id}{collate} `+order) + ` LIMIT ` + w.arg(budget)
	}
	candArgs := slices.Clone(w.args)

	match := ""
	if filtered {
		x := w.on("x")
		x.sameAs("stream_id", "h")
		x.searchFilters(q)
		match = ` AND EXISTS (SELECT 1 FROM ` + s.sc.from("x") + ` WHERE ` + x.sql() + `)`
		w.merge(x)
	}
	sql := `WITH cand AS (` + candidates + `)` + s.sc.expand(streamInfoSQL+
		` JOIN cand ON {h.stream_id} = cand.stream_id{cast:stream_id} WHERE {h.version} = 1`) + match +
		s.sc.expand(` ORDER BY {h.stream_id}{collate} `+order) + ` LIMIT ` + w.arg(limit+1)
	streams, err := s.queryStreamInfos(ctx, sql, w.args)
	if err != nil {
		return StreamPage{}, err
	}
	page := pageOf(q, streams, limit)
	if filtered && len(streams) <= limit {
		// Fewer matches than asked: either the walk reached the end, or it
		// used up its budget. Ask where the budget ended (an index-only
		// walk of the same heads).
		edge := "max"
		if order == "DESC" {
			edge = "min"
		}
		var last string
		var n int
		if err := s.db.QueryRow(ctx, `WITH cand AS (`+candidates+`) SELECT coalesce(`+edge+`(stream_id), ''), count(*) FROM cand`,
			candArgs...).Scan(&last, &n); err != nil {
			return StreamPage{}, fmt.Errorf("eventstore: unable to list streams: %w", err)
		}
		if n >= budget {
			page.Partial = true
			if order == "ASC" {
				page.Next = last
			} else {
				page.Prev = last
			}
		}
	}
	return page, nil
}

// pageOf trims a limit+1 result to the page and sets its cursors. Backward
// results arrive in descending order and are put back in id order.
func pageOf(q StreamSearch, streams []StreamInfo, limit int) StreamPage {
	more := len(streams) > limit
	if more {
		streams = streams[:limit]
	}
	if q.Before != "" {
		slices.Reverse(streams)
	}
	p := StreamPage{Streams: streams}
	if p.Streams == nil {
		p.Streams = []StreamInfo{}
	}
	if len(streams) == 0 {
		return p
	}
	first, last := streams[0].StreamID, streams[len(streams)-1].StreamID
	switch {
	case q.Before != "":
		p.Next = last // we came from there
		if more {
			p.Prev = first
		}
	default:
		if more {
			p.Next = last
		}
		if q.After != "" {
			p.Prev = first
		}
	}
	return p
}

// queryStreamInfos runs a stream listing built on streamInfoSQL.
func (s *Store) queryStreamInfos(ctx context.Context, sql string, args []any) ([]StreamInfo, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to list streams: %w", err)
	}
	defer rows.Close()
	var out []StreamInfo
	for rows.Next() {
		var si StreamInfo
		if err := scanStreamInfo(rows, &si); err != nil {
			return nil, fmt.Errorf("eventstore: unable to list streams: %w", err)
		}
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: unable to list streams: %w", err)
	}
	return out, nil
}

// StreamWindow reads one page of a stream's events in version order, after
// version after, keeping only those recorded in [from, to] (zero = open). The
// scan follows the (stream_id, version) index, so walking a whole window
// page by page reads the stream once, whatever its size: exports use it.
func (s *Store) StreamWindow(ctx context.Context, streamID string, after int, from, to time.Time, limit int) ([]Event, error) {
	if !s.sc.accept("stream_id", streamID) {
		return nil, fmt.Errorf("%w: %q", ErrStreamNotFound, streamID)
	}
	w := s.sc.where("")
	w.eq("stream_id", streamID)
	w.cmp("version", ">", after)
	if !from.IsZero() {
		w.cmp("recorded_at", ">=", from)
	}
	if !to.IsZero() {
		w.cmp("recorded_at", "<=", to)
	}
	sql := w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY {version}`) + ` LIMIT ` + w.arg(pageSize(limit))
	return s.queryEvents(ctx, fmt.Sprintf("stream %q", streamID), sql, w.args)
}
