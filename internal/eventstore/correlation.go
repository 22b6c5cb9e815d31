package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Bounds of causation walks: a chain written by a buggy producer may be
// very long or even loop (an event naming a later event as its cause).
const (
	MaxCausationDepth = 50
	MaxCausedEvents   = 200
	MaxCorrelated     = 500
)

// CausedEvent is an event of a causation chain with its distance from the
// event the walk started at (1 = direct cause or direct effect).
type CausedEvent struct {
	Event
	Depth int `json:"depth"`
}

// uuidPattern guards the ::uuid casts: causation_id is free text written by
// other applications, and a cast of a malformed value would fail the query.
const uuidPattern = `'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'`

// causeOf is the SQL expression of an events row's causation_id in the
// event id's own type, NULL when absent or malformed. CASE evaluates the
// cast only when the pattern matched.
func (sc *schema) causeOf(alias string) string {
	m := sc.metaText(alias, MetaCausationID)
	if sc.idPattern == "" {
		return m
	}
	return `CASE WHEN ` + m + ` ~ ` + sc.idPattern + ` THEN (` + m + `)` + sc.casts["event_id"] + ` END`
}

// Causes walks ev's causation chain upwards: its cause, the cause's cause,
// up to the root or maxDepth (at most MaxCausationDepth) steps. The result
// is ordered from the direct cause (depth 1) to the root. A cause that is
// not in the store ends the walk. Each step is one probe of the event_id
// unique index.
func (s *Store) Causes(ctx context.Context, ev *Event, maxDepth int) ([]CausedEvent, error) {
	if maxDepth <= 0 || maxDepth > MaxCausationDepth {
		maxDepth = MaxCausationDepth
	}
	cause := ev.CausationID()
	if cause == "" || !s.sc.accept("event_id", cause) {
		return []CausedEvent{}, nil
	}
	rows, err := s.db.Query(ctx, s.sc.expand(`
		WITH RECURSIVE up AS (
			SELECT {e.event_id} AS id, 1 AS depth, `+s.sc.causeOf("e")+` AS next
			FROM {events} e WHERE {e.event_id} = $1{cast:event_id}
			UNION ALL
			SELECT {p.event_id}, up.depth + 1, `+s.sc.causeOf("p")+`
			FROM up JOIN {events} p ON {p.event_id} = up.next
			WHERE up.depth < $2
		)
		SELECT {e.*}, up.depth
		FROM up JOIN {events} e ON {e.event_id} = up.id
		ORDER BY up.depth`), cause, maxDepth)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to read causes of event %d: %w", ev.Position, err)
	}
	return s.sc.collectCaused(rows, ev.EventID)
}

// Effects walks ev's causation chain downwards, breadth first: the events
// whose causation_id is ev's event_id, their effects, and so on, up to
// maxDepth levels and MaxCausedEvents events, ordered by depth, then log
// position. Each level is one statement (effectsLevel), so a chain of d
// levels costs d index probes and no more.
//
// WHY not one recursive CTE: the planner cannot bound a recursive union. It
// multiplies its guess of a level's width (the causation_id statistics, which
// a fee run with thousands of effects skews) by ten per level, priced the
// old walk above jit_above_cost on a 50,000-event store and spent ~70 ms of
// JIT compilation on every event page for a walk that finds nothing. A level
// is a plain probe of the causation_id index with a LIMIT: it stays cheap to
// plan and to run, whatever the store's size.
func (s *Store) Effects(ctx context.Context, ev *Event, maxDepth int) ([]CausedEvent, error) {
	if maxDepth <= 0 || maxDepth > MaxCausationDepth {
		maxDepth = MaxCausationDepth
	}
	out := []CausedEvent{}
	seen := map[string]bool{ev.EventID: true} // a causation loop leads back
	parents := []string{ev.EventID}
	for depth := 1; depth <= maxDepth && len(parents) > 0 && len(out) < MaxCausedEvents; depth++ {
		// One more than still fits: a loop can bring ev itself back (every
		// other event has one cause, already walked), and it is dropped.
		level, err := s.effectsLevel(ctx, ev.Position, parents, MaxCausedEvents-len(out)+1)
		if err != nil {
			return nil, err
		}
		parents = parents[:0]
		for _, e := range level {
			if seen[e.EventID] || len(out) == MaxCausedEvents {
				continue
			}
			seen[e.EventID] = true
			out = append(out, CausedEvent{Event: e, Depth: depth})
			parents = append(parents, e.EventID)
		}
	}
	return out, nil
}

// effectsLevel reads the events whose causation_id is one of parents (event
// ids as text), in log order, at most limit. It probes the causation_id
// expression index once per parent.
//
// WHY the MATERIALIZED CTE: with ORDER BY position LIMIT n on the table
// itself, the generic plan pgx's cached statement ends up with (no values
// known, so ten parents and many matches are guessed) walks the primary key
// in order, filtering every row until n effects are found: the whole table
// when there are none, which is most events (50 ms at 50,000 events). The
// fence makes the index probe the only way in; the sort is over the
// matches' positions only, then at most limit rows are read by key.
func (s *Store) effectsLevel(ctx context.Context, of int64, parents []string, limit int) ([]Event, error) {
	return s.queryEvents(ctx, fmt.Sprintf("effects of event %d", of), s.sc.expand(`
		WITH level AS MATERIALIZED (
			SELECT {c.event_id} AS id, {c.position} AS position, {c.recorded_at} AS at, {c.stream_id} AS sid, {c.version} AS v FROM {events} c
			WHERE `+s.sc.metaHas("c", MetaCausationID)+` AND `+s.sc.metaText("c", MetaCausationID)+` = ANY($1::text[])
		), first AS (SELECT id, position, at, sid, v FROM level ORDER BY position, at, sid, v LIMIT $2)
		SELECT {e.*} FROM first JOIN {events} e ON {e.event_id} = first.id
		ORDER BY first.position, first.at, first.sid, first.v`), []any{parents, limit})
}

// Correlated reads the events sharing a correlation id, across streams, in
// log order, at most limit (MaxCorrelated when 0 or larger). It reads the
// (correlation_id, position) expression index. A limit+1 read tells the
// caller whether the list was cut.
func (s *Store) Correlated(ctx context.Context, correlationID string, limit int) ([]Event, error) {
	if limit <= 0 || limit > MaxCorrelated+1 {
		limit = MaxCorrelated + 1
	}
	w := s.sc.where("")
	w.metaEq(MetaCorrelationID, correlationID)
	events, err := s.queryEvents(ctx, fmt.Sprintf("correlation %q", correlationID),
		w.in(`SELECT {*} FROM {events} WHERE {where} ORDER BY `)+s.sc.logOrder("", "ASC")+` LIMIT `+w.arg(limit), w.args)
	if err != nil {
		return nil, err
	}
	if events == nil {
		events = []Event{}
	}
	return events, nil
}

// collectCaused scans events followed by a depth, skipping the start event
// itself (a causation loop leads back to it).
func (sc *schema) collectCaused(rows pgx.Rows, self string) ([]CausedEvent, error) {
	defer rows.Close()
	out := []CausedEvent{}
	seen := map[string]bool{self: true}
	for rows.Next() {
		var c CausedEvent
		if err := sc.scanEvent(rows, &c.Event, &c.Depth); err != nil {
			return nil, fmt.Errorf("eventstore: unable to read causation chain: %w", err)
		}
		if seen[c.EventID] {
			continue
		}
		seen[c.EventID] = true
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: unable to read causation chain: %w", err)
	}
	return out, nil
}
