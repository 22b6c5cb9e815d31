package eventstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LiveSource is what the live consumer needs to read a source table's rows
// as logical replication sends them (one text value per column, named as
// in the table): which relations are the events and the checkpoints, which
// column holds what, and how to fill what the table has no column for. It
// is the replication-side twin of the schema the SQL reads through.
type LiveSource struct {
	// Namespace and Name are the event table's, unquoted, as pgoutput's
	// Relation messages name it.
	Namespace, Name string
	// Columns maps a logical event column (MappedColumns) to the table's
	// column; a logical column the table lacks is absent.
	Columns map[string]string
	// StreamType is the constant stream type, or SplitStreamType the
	// separator before which the stream id holds it, when Columns has no
	// stream_type.
	StreamType, SplitStreamType string
	// Location reads a recorded_at without time zone; nil when the column
	// is a timestamptz.
	Location *time.Location
	// NumberedVersions: the table has no per-stream version, and events are
	// numbered 1, 2, … in position order within their stream (VersionAt).
	NumberedVersions bool
	// Checkpoints is the checkpoints table's relation, when the mapping
	// has one (or auditd's own).
	Checkpoints *LiveCheckpoints
	// Tables are the tables the publication must hold, with what the
	// catalog says about them.
	Tables []PublishedTable
	// NoPosition: the table has no global position (seed 004); events
	// carry position 0 and are addressed by their id.
	NoPosition bool
	// Where and Exclude are the source's row filters (Keeps).
	Where   map[string]any
	Exclude ExcludeStreams

	store    *Store
	metaKeys *MetaKeys
}

// LiveCheckpoints names the checkpoints table and its columns (name,
// position, updated_at, last_error, error_count; absent when it has none).
type LiveCheckpoints struct {
	Namespace, Name string
	Columns         map[string]string
}

// PublishedTable is a table the live consumer needs published.
type PublishedTable struct {
	Qualified string // schema-qualified and quoted
	// ReplicaIdentity is false for a table without a primary key or a
	// REPLICA IDENTITY: publishing its UPDATEs and DELETEs would make the
	// application's own UPDATEs and DELETEs fail.
	ReplicaIdentity bool
	// Owned: the connected role owns the table (or is superuser), so it may
	// create a publication for it.
	Owned bool
}

// NativeLiveSource is auditd's own events and projection_checkpoints tables.
func NativeLiveSource(store *Store) *LiveSource {
	cols := map[string]string{}
	for _, c := range eventColumnNames {
		cols[c] = c
	}
	return &LiveSource{
		Namespace: "public", Name: "events", Columns: cols, store: store,
		Checkpoints: &LiveCheckpoints{Namespace: "public", Name: "projection_checkpoints", Columns: map[string]string{
			"name": "projection", "position": "position", "updated_at": "updated_at", "last_error": "last_error", "error_count": "error_count",
		}},
	}
}

// NewLiveSource describes the table a mapped store reads for the live
// consumer. It reads the catalog only.
func NewLiveSource(ctx context.Context, store *Store, m *Mapping, cat *Catalog) (*LiveSource, error) {
	src := m.Source
	ls := &LiveSource{Columns: map[string]string{}, StreamType: src.StreamType, SplitStreamType: src.SplitStreamType,
		store: store, metaKeys: store.sc.renamedKeys}
	for k, v := range src.Columns {
		ls.Columns[k] = v
	}
	if ls.Columns["event_id"] == "" {
		ls.Columns["event_id"] = ls.Columns["position"]
	}
	ls.NumberedVersions = ls.Columns["version"] == ""
	ls.NoPosition = ls.Columns["position"] == ""
	ls.Where, ls.Exclude = src.Where, src.ExcludeStreams
	if cat.Types["recorded_at"] == "timestamp without time zone" {
		loc, err := time.LoadLocation(src.TimeZone)
		if err != nil {
			return nil, mappingErr("source.time_zone", "%q is not a time zone this system knows: %v", src.TimeZone, err)
		}
		ls.Location = loc
	}
	t, err := publishedTable(ctx, store.db, cat.Table)
	if err != nil {
		return nil, err
	}
	ls.Namespace, ls.Name = t.namespace, t.name
	ls.Tables = append(ls.Tables, t.PublishedTable)
	if cp := m.Checkpoints; cp != nil {
		t, err := publishedTable(ctx, store.db, cat.Checkpoints)
		if err != nil {
			return nil, err
		}
		ls.Checkpoints = &LiveCheckpoints{Namespace: t.namespace, Name: t.name, Columns: map[string]string{}}
		for k, v := range cp.Columns {
			ls.Checkpoints.Columns[k] = v
		}
		ls.Tables = append(ls.Tables, t.PublishedTable)
	}
	return ls, nil
}

type catalogTable struct {
	PublishedTable
	namespace, name string
}

// publishedTable reads what the catalog says of a table the publication
// needs: its names, whether it has a replica identity, whether we own it.
func publishedTable(ctx context.Context, db DB, qualified string) (catalogTable, error) {
	t := catalogTable{PublishedTable: PublishedTable{Qualified: qualified}}
	// relreplident: 'd' uses the primary key (none: no identity), 'i' an
	// index, 'f' the whole row, 'n' nothing.
	err := db.QueryRow(ctx, `
		SELECT n.nspname, c.relname,
		       CASE c.relreplident WHEN 'f' THEN true WHEN 'i' THEN true WHEN 'n' THEN false
		            ELSE EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) END,
		       pg_has_role(current_user, c.relowner, 'USAGE')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, qualified).Scan(&t.namespace, &t.name, &t.ReplicaIdentity, &t.Owned)
	if err != nil {
		return t, fmt.Errorf("eventstore: unable to read the catalog entry of %s: %w", qualified, err)
	}
	return t, nil
}

// Keeps reports whether a row the live consumer decoded is one the read
// path reads: it meets the source's where equalities (value gives a
// column's text as pgoutput sent it, and whether it is non-null) and its
// stream is not excluded. The same rules as the SQL filter, on text.
func (ls *LiveSource) Keeps(streamID string, value func(column string) ([]byte, bool)) bool {
	for col, want := range ls.Where {
		got, ok := value(col)
		switch w := want.(type) {
		case nil:
			if ok {
				return false
			}
		case bool:
			// bool's text output is t or f.
			if !ok || (string(got) == "t") != w {
				return false
			}
		case float64:
			n, err := strconv.ParseFloat(string(got), 64)
			if !ok || err != nil || n != w {
				return false
			}
		case string:
			if !ok || string(got) != w {
				return false
			}
		}
	}
	ex := ls.Exclude
	for _, p := range ex.Prefix {
		if strings.HasPrefix(streamID, p) {
			return false
		}
	}
	for _, p := range ex.Suffix {
		if strings.HasSuffix(streamID, p) {
			return false
		}
	}
	for _, p := range ex.Contains {
		if strings.Contains(streamID, p) {
			return false
		}
	}
	return true
}

// Tag finishes an event the live consumer decoded: Event.Meta then reads the
// metadata keys the source names.
func (ls *LiveSource) Tag(e *Event) { e.metaKeys = ls.metaKeys }

// VersionAt is the version the read path gives the event at position in
// streamID when the table has no per-stream version: the count of the
// stream's events up to it.
func (ls *LiveSource) VersionAt(ctx context.Context, streamID string, position int64) (int, error) {
	var n int
	sc := ls.store.sc
	if !sc.accept("stream_id", streamID) {
		return 0, fmt.Errorf("eventstore: %q is not a stream id of this table", streamID)
	}
	err := ls.store.db.QueryRow(ctx, sc.expand(`SELECT count(*) FROM {events} WHERE {stream_id} = $1{cast:stream_id} AND {position} <= $2`),
		streamID, position).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unable to number the event at %d: %w", position, err)
	}
	return n, nil
}

// Publications are the statements that create the publication name for
// the tables: one for the tables with a replica identity, and one (name
// suffixed "_inserts") WITH (publish = 'insert, truncate') for those
// without, whose published UPDATEs and DELETEs would make the
// application's own fail. A TRUNCATE needs no replica identity, so it is
// still seen. Each entry is the publication's name and its statement.
func (ls *LiveSource) Publications(name string) []Publication {
	var full, inserts []string
	for _, t := range ls.Tables {
		if t.ReplicaIdentity {
			full = append(full, t.Qualified)
		} else {
			inserts = append(inserts, t.Qualified)
		}
	}
	var out []Publication
	if len(full) > 0 {
		out = append(out, Publication{Name: name, Tables: full,
			Statement: "CREATE PUBLICATION " + pgx.Identifier{name}.Sanitize() + " FOR TABLE " + strings.Join(full, ", ") + ";"})
	}
	if len(inserts) > 0 {
		n := name + "_inserts"
		out = append(out, Publication{Name: n, Tables: inserts, InsertsOnly: true,
			Statement: "CREATE PUBLICATION " + pgx.Identifier{n}.Sanitize() + " FOR TABLE " + strings.Join(inserts, ", ") +
				" WITH (publish = 'insert, truncate');"})
	}
	return out
}

// Publication is one publication the live consumer reads.
type Publication struct {
	Name      string
	Tables    []string // quoted, schema-qualified
	Statement string   // CREATE PUBLICATION …;
	// InsertsOnly: its tables have no replica identity, so their UPDATEs
	// and DELETEs are not published (and not seen as tampering).
	InsertsOnly bool
}

// MayCreatePublications reports whether the connected role owns every
// table (CREATE PUBLICATION … FOR TABLE needs ownership).
func (ls *LiveSource) MayCreatePublications() bool {
	for _, t := range ls.Tables {
		if !t.Owned {
			return false
		}
	}
	return true
}

// IndexAdvice is an index a page needs to stay fast that the table lacks.
type IndexAdvice struct {
	Columns   []string `json:"columns"`
	Statement string   `json:"statement"` // CREATE INDEX CONCURRENTLY …;
	SpeedsUp  string   `json:"speeds_up"`
}

// MissingIndexes lists the indexes the pages rely on that the mapped table
// lacks: an index whose leading key columns are the ones named serves. On
// auditd's own table (which has them all) it returns none.
func (s *Store) MissingIndexes(ctx context.Context, m *Mapping) ([]IndexAdvice, error) {
	if m == nil || m.Source == nil {
		return nil, nil
	}
	src := m.Source
	order := src.Columns["version"]
	if order == "" {
		order = src.Columns["position"]
	}
	wanted := []struct {
		cols  []string
		speed string
	}{
		{[]string{src.Columns["stream_id"], order}, "a stream's timeline, state at a time or version, diffs and verification" +
			map[bool]string{true: ", and the numbering of events in a table without a per-stream version", false: ""}[src.Columns["version"] == ""]},
		{[]string{src.Columns["position"]}, "the global log's pages, the live resume and projection lag"},
		// Without a position the global log is ordered by time.
		{[]string{src.Columns["recorded_at"]}, "the global log's pages in time order"},
		{[]string{src.Columns["event_type"]}, "the global log filtered by event type"},
	}
	if src.Columns["position"] == "" {
		wanted = slices.Delete(wanted, 1, 2)
	} else {
		wanted = slices.Delete(wanted, 2, 3)
	}
	var out []IndexAdvice
	for _, w := range wanted {
		var has bool
		// An index serves when its leading key columns are w.cols, in order.
		err := s.db.QueryRow(ctx, `
			SELECT EXISTS (
				SELECT 1 FROM pg_index i
				WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND i.indpred IS NULL
				  AND i.indnkeyatts >= cardinality($2::text[])
				  AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
				       FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
				       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
				       WHERE k.ord <= cardinality($2::text[])) = $2::text[])`, s.sc.events, w.cols).Scan(&has)
		if err != nil {
			return nil, fmt.Errorf("eventstore: unable to read the indexes of %s: %w", s.sc.events, err)
		}
		if has {
			continue
		}
		// quote_ident quotes only what needs it: the statement reads as a
		// DBA would write it.
		var cols string
		if err := s.db.QueryRow(ctx, `SELECT string_agg(quote_ident(c), ', ' ORDER BY o) FROM unnest($1::text[]) WITH ORDINALITY u(c, o)`, w.cols).Scan(&cols); err != nil {
			return nil, fmt.Errorf("eventstore: unable to quote column names: %w", err)
		}
		out = append(out, IndexAdvice{Columns: w.cols, SpeedsUp: w.speed,
			Statement: "CREATE INDEX CONCURRENTLY ON " + s.sc.events + " (" + cols + ");"})
	}
	return out, nil
}

// VersionCache remembers, per stream, the last position numbered and its
// version, so that the consumer numbers a stream's events without a query
// each (LiveSource.Number). Bounded: a full cache is emptied. The zero
// value is ready.
type VersionCache struct {
	mu      sync.Mutex
	streams map[string]numbered
}

type numbered struct {
	position int64
	version  int
}

const maxVersionCache = 10000

// Number gives the event at position in streamID its version: the cached
// one plus one when the event follows the last one numbered, else a query
// (VersionAt). A position below the cached one (a transaction committed
// out of position order) is queried and resets the stream's entry.
func (ls *LiveSource) Number(ctx context.Context, cache *VersionCache, streamID string, position int64) (int, error) {
	c := cache
	c.mu.Lock()
	if c.streams == nil {
		c.streams = map[string]numbered{}
	}
	last, ok := c.streams[streamID]
	c.mu.Unlock()
	var v int
	if ok && position > last.position {
		v = last.version + 1
	} else {
		var err error
		if v, err = ls.VersionAt(ctx, streamID, position); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	if len(c.streams) >= maxVersionCache {
		clear(c.streams)
	}
	c.streams[streamID] = numbered{position: position, version: v}
	c.mu.Unlock()
	return v, nil
}

// Forget drops what the cache knows: after an UPDATE, DELETE or TRUNCATE
// of the table the counts may have changed.
func (c *VersionCache) Forget() {
	c.mu.Lock()
	clear(c.streams)
	c.mu.Unlock()
}

// canonicalFrom is the start of a canonical read up to its WHERE's own
// conditions: the table itself, not the filtered sub-select of from, since
// xmin is a system column that SELECT * does not carry; the source's
// filter is AND-ed in directly (it is already SQL, never expanded again).
func (sc *schema) canonicalFrom() string {
	out := "SELECT " + sc.canonicalSelect() + " FROM " + sc.events + " WHERE "
	if sc.filter != "" {
		out += "(" + sc.filter + ") AND "
	}
	return out
}

// canonicalSelect is the select list of a CanonicalEvent, each value cast to
// its text output: the stored values as pgoutput sends them, and for a
// column the table lacks the text the live consumer gives it ("1", "{}",
// a numbered version).
func (sc *schema) canonicalSelect() string {
	parts := []string{sc.col("", "position"), "xmin::text::bigint"}
	for _, c := range []string{"stream_id", "version", "event_type", "schema_version", "payload", "metadata", "recorded_at"} {
		parts = append(parts, sc.col("", c)+"::text")
	}
	return strings.Join(parts, ", ")
}

// OpenMapped checks m against the catalog (Validate) and returns the
// read-only store on the application's table and how the live consumer
// decodes it.
func OpenMapped(ctx context.Context, pool *pgxpool.Pool, m *Mapping) (*Store, *LiveSource, error) {
	cat, err := m.Validate(ctx, pool)
	if err != nil {
		return nil, nil, err
	}
	store, err := NewMapped(pool, m, cat)
	if err != nil {
		return nil, nil, err
	}
	src, err := NewLiveSource(ctx, store, m, cat)
	if err != nil {
		return nil, nil, err
	}
	return store, src, nil
}

// WithoutCountTables is the store for a source whose auditd schema lives in
// another database (--state-database-url): the counter's tables
// (auditd.event_counts) are not beside the events, and the counter settles
// in the events' own transaction, so the counts are one aggregate over the
// table per view and FoldCounts does nothing.
func (s *Store) WithoutCountTables() *Store {
	c := *s
	c.aggregateCounts = true
	return &c
}

// countByAggregate is Counts as one aggregate over the table.
func (s *Store) countByAggregate(ctx context.Context) ([]TypeCount, error) {
	rows, err := s.db.Query(ctx, s.sc.expand(`SELECT {stream_type}, {event_type}::text, count(*), count(*) FILTER (WHERE {version} = 1)
		FROM {events} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`))
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to count events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TypeCount, error) {
		var c TypeCount
		err := r.Scan(&c.StreamType, &c.EventType, &c.Events, &c.Streams)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to count events: %w", err)
	}
	return out, nil
}
