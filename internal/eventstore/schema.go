package eventstore

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what a Store runs its statements on: a *pgxpool.Pool, a *pgx.Conn or
// a pgx.Tx. A Store on a transaction (Store.InTx) lets a caller read events,
// checkpoints and its own tables at one snapshot.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// schema names the event table, its columns, the metadata keys and the
// checkpoints table. Every statement of this package takes its table and
// column names from here (through expand and predicates), so reading an
// event table of another shape means filling a schema differently, not
// editing SQL.
//
// Column entries are SQL expressions over the table's row; "%s" stands for
// the table alias ("" when the statement uses none), "%t" for the row's
// table even without an alias, and "%%" for a percent sign (tmplLiteral), so
// a column the table lacks can be given as a constant expression instead.
type schema struct {
	events string // the event table, quoted if needed
	// filter, when not empty, is the condition on the table's own columns
	// that the rows auditd reads meet (the source's where and
	// exclude_streams): {events} is then a sub-select of those rows.
	filter      string
	checkpoints string // the checkpoints table
	// columns maps a logical event column to its expression template.
	// recorded_at is the column as stored, for comparisons and order (so
	// that its index serves); recorded_at_tz is it as a timestamptz, for
	// values read (a timestamp without time zone read in the source's
	// time zone).
	columns    map[string]string
	selectAs   map[string]string // logical column -> select-list cast, when the scan needs one
	checkpoint map[string]string // logical checkpoint column -> expression template
	metaKeys   map[string]string // logical metadata key -> key in the metadata object
	// renamedKeys is metaKeys for Event.Meta when a source names the keys
	// otherwise (camelCase); nil for auditd's own names.
	renamedKeys *MetaKeys
	// casts holds, per logical column, the cast a parameter compared with
	// it takes ({cast:stream_id}): a parameter in the column's own type
	// keeps the table's indexes usable, a column cast to text would not.
	casts map[string]string
	// collate is what follows a stream id to order it in byte order:
	// COLLATE "C" for text ids; uuid and integer ids have one order.
	collate string
	// textIDs is false when stream ids are not text, so that a prefix
	// search compares the id's text form.
	textIDs bool
	// readOnly marks an application's table: auditd never writes to it.
	readOnly bool
	// accepts reports whether a user's stream or event id is a value of
	// the column's type; nil accepts anything (text columns).
	accepts map[string]func(string) bool
	// idPattern is the regular expression a metadata value must match to
	// be cast to the event id's type (causation ids are free text); ""
	// when the type is text and no cast is needed.
	idPattern string
	// metaType is how the metadata column is stored: jsonb (auditd's own),
	// json, or text holding JSON.
	metaType string
	// nullDefault holds, per logical column a mapped table may hold NULL
	// in, the value the select list reads instead (the event is flagged).
	nullDefault map[string]string
	// noPosition is set when the table has no global position (seed 004):
	// the log is ordered by time, stream and version, and events are
	// addressed by their event id.
	noPosition bool

	expanded sync.Map // template -> statement: templates are a bounded set of constants and their combinations
}

// Logical event columns, in the order scanEvent reads them.
var eventColumnNames = []string{
	"position", "event_id", "stream_id", "stream_type", "version", "event_type",
	"schema_version", "payload", "metadata", "recorded_at",
}

// native is auditd's own `events` schema (migrations/eventstore).
var native = &schema{
	events:      "events",
	checkpoints: "projection_checkpoints",
	columns: map[string]string{
		"position": "%sposition", "event_id": "%sevent_id", "stream_id": "%sstream_id",
		"stream_type": "%sstream_type", "version": "%sversion", "event_type": "%sevent_type",
		"schema_version": "%sschema_version", "payload": "%spayload", "metadata": "%smetadata",
		"recorded_at": "%srecorded_at", "recorded_at_tz": "%srecorded_at",
	},
	selectAs: map[string]string{"event_id": "::text"},
	checkpoint: map[string]string{
		"cp_name": "%sprojection", "cp_position": "%sposition", "cp_updated_at": "%supdated_at",
		"cp_last_error": "%slast_error", "cp_error_count": "%serror_count",
	},
	metaKeys: map[string]string{
		MetaCorrelationID: MetaCorrelationID, MetaCausationID: MetaCausationID,
		MetaActor: MetaActor, MetaSource: MetaSource,
	},
	casts:     map[string]string{"event_id": "::uuid"},
	collate:   ` COLLATE "C"`,
	textIDs:   true,
	accepts:   map[string]func(string) bool{"event_id": IsEventID},
	idPattern: uuidPattern,
	metaType:  "jsonb",
}

// accept reports whether v can be compared with the logical column name
// (a uuid column takes only UUIDs): a value that cannot is no row, not a
// database error.
func (sc *schema) accept(name, v string) bool {
	f := sc.accepts[name]
	return f == nil || f(v)
}

// col is the SQL expression of a logical event or checkpoint column, qualified
// by alias ("" for none). An unknown name is a programming error.
func (sc *schema) col(alias, name string) string {
	t, ok := sc.columns[name]
	if !ok {
		if t, ok = sc.checkpoint[name]; !ok {
			panic(fmt.Sprintf("eventstore: unknown column %q", name))
		}
	}
	if alias != "" {
		alias += "."
	}
	// "%t" is the row's table even in a statement without an alias: a
	// correlated sub-select (numbered versions) must not bind it to its
	// own FROM.
	self := alias
	if self == "" {
		self = sc.fromAlias("") + "."
	}
	// One pass, so that a "%s" inside a literal written as "%%s" stays.
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == '%' && i+1 < len(t) {
			switch t[i+1] {
			case 's':
				b.WriteString(alias)
				i++
				continue
			case 't':
				b.WriteString(self)
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(t[i])
	}
	return b.String()
}

// logOrder is the global log's order under alias in direction dir: the
// position, or for a table without one the time, then stream and version.
func (sc *schema) logOrder(alias, dir string) string {
	if !sc.noPosition {
		return sc.col(alias, "position") + " " + dir
	}
	return sc.col(alias, "recorded_at") + " " + dir + ", " + sc.col(alias, "stream_id") + " " + dir + ", " + sc.col(alias, "version") + " " + dir
}

// tieBreak orders events of one version (an application's table may hold a
// version twice) by position, so that pages and flags are the same on every
// read; auditd's own table has unique versions and needs none.
func (sc *schema) tieBreak(dir string) string {
	if !sc.readOnly || sc.noPosition {
		return ""
	}
	return ", " + sc.col("", "position") + " " + dir
}

// tmplLiteral is s as an SQL string literal inside a column template: its
// percent signs are doubled so that col leaves them as they are.
func tmplLiteral(s string) string { return strings.ReplaceAll(quoteLiteral(s), "%", "%%") }

// fromAlias is the name the event rows go by in a statement that gives
// them alias (none: the table's own name, or auditd_e for a filtered
// sub-select, which needs one).
func (sc *schema) fromAlias(alias string) string {
	switch {
	case alias != "":
		return alias
	case sc.filter != "":
		return "auditd_e"
	}
	return sc.events
}

// from is the FROM item of the event rows under alias ("" for none): the
// table, or the sub-select of the rows the source's filters keep. The
// planner flattens the sub-select, so the table's indexes serve as before.
func (sc *schema) from(alias string) string {
	if sc.filter == "" {
		if alias == "" {
			return sc.events
		}
		return sc.events + " " + alias
	}
	return "(SELECT * FROM " + sc.events + " WHERE " + sc.filter + ") " + sc.fromAlias(alias)
}

// selectList is the event select list that scanEvent reads, qualified by
// alias. An entry whose expression is not the bare logical name is named
// after it: a mapped table may serve two logical columns from one column
// (position and event_id both "id"), which would make ORDER BY id ambiguous.
func (sc *schema) selectList(alias string) string {
	parts := make([]string, len(eventColumnNames))
	for i, n := range eventColumnNames {
		parts[i] = sc.col(alias, n) + sc.selectAs[n]
		if def, ok := sc.nullDefault[n]; ok {
			parts[i] = "coalesce(" + parts[i] + ", " + def + ")"
		}
		if sc.columns[n] != "%s"+n || sc.nullDefault[n] != "" {
			parts[i] += " AS " + n
		}
	}
	return strings.Join(parts, ", ")
}

// metaText is the SQL text of a metadata key (NULL when absent). Metadata
// stored as text may hold anything, and PostgreSQL 15 has no cast that
// fails softly: a string value is taken out with a regular expression
// (top-level and nested keys alike), which never raises an error.
func (sc *schema) metaText(alias, key string) string {
	m := sc.col(alias, "metadata")
	if sc.metaType == "text" {
		return "substring(" + m + " from " + quoteLiteral(`"`+regexp.QuoteMeta(sc.metaKey(key))+`"\s*:\s*"([^"\\]*)"`) + ")"
	}
	return m + "->>" + quoteLiteral(sc.metaKey(key))
}

// metaHas tests that the metadata holds key; written next to metaText so that
// the planner can use the jsonb expression indexes.
func (sc *schema) metaHas(alias, key string) string {
	if sc.metaType == "json" || sc.metaType == "text" {
		return sc.metaText(alias, key) + " IS NOT NULL"
	}
	return sc.col(alias, "metadata") + " ? " + quoteLiteral(sc.metaKey(key))
}

func (sc *schema) metaKey(key string) string {
	k, ok := sc.metaKeys[key]
	if !ok {
		panic(fmt.Sprintf("eventstore: unknown metadata key %q", key))
	}
	return k
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tokenPattern matches the names expand replaces: {events}, {checkpoints},
// {col}, {alias.col}, {alias.*} (the select list) and {alias.meta:key}.
var tokenPattern = regexp.MustCompile(`\{(?:([a-z]+)\.)?(\*|[a-z_]+)(?::([a-z_]+))?\}`)

// expand resolves the names of a statement template:
//
//	{events}, {checkpoints}   the tables
//	{e.stream_id}, {version}  a column, qualified or not
//	{e.*}, {*}                the event select list scanEvent reads
//	{e.meta:actor}            a metadata key's text
//	{cast:stream_id}          the cast of a parameter compared with a column
//	{collate}                 the byte-order collation of stream ids, if any
//
// Everything else, including jsonb operators and $n parameters, is left as is.
func (sc *schema) expand(tmpl string) string {
	if out, ok := sc.expanded.Load(tmpl); ok {
		return out.(string)
	}
	// {events} and the alias after it become a marker first, and the FROM
	// item last: the source's filters hold the user's values as literals,
	// which no later pass may read as names. (Configuration strings
	// cannot hold a NUL.)
	out := eventsPattern.ReplaceAllString(tmpl, "\x00events:$1\x00")
	out = tokenPattern.ReplaceAllStringFunc(out, func(tok string) string {
		m := tokenPattern.FindStringSubmatch(tok)
		alias, name, key := m[1], m[2], m[3]
		switch {
		case alias == "" && name == "events":
			return sc.events
		case alias == "" && name == "checkpoints":
			return sc.checkpoints
		case alias == "" && name == "collate":
			return sc.collate
		case alias == "" && name == "cast" && key != "":
			return sc.casts[key]
		case name == "*":
			return sc.selectList(alias)
		case name == "meta" && key != "":
			return sc.metaText(alias, key)
		case alias == "" && name == "where":
			return whereMark // predicates.in fills it
		}
		return sc.col(alias, name)
	})
	out = fromMark.ReplaceAllStringFunc(out, func(m string) string {
		return sc.from(strings.TrimSpace(m[len("\x00events:") : len(m)-1]))
	})
	sc.expanded.Store(tmpl, out)
	return out
}

// eventsPattern is {events} with the alias a template gives it, if any
// (aliases are lower case, keywords upper case); fromMark its marker.
var (
	eventsPattern = regexp.MustCompile(`\{events\}((?: [a-z][a-z_]*)?)`)
	fromMark      = regexp.MustCompile("\x00events:[ a-z_]*\x00")
)

// whereMark stands for {where} in an expanded template until predicates.in
// puts the conditions there.
const whereMark = "\x00where\x00"

// predicates builds the AND-ed WHERE conditions of one statement and their
// arguments, on the columns of one table alias: the one way this package
// turns a query's filters into SQL.
type predicates struct {
	sc    *schema
	alias string
	conds []string
	args  []any
}

func (sc *schema) where(alias string, args ...any) *predicates {
	return &predicates{sc: sc, alias: alias, args: args}
}

// on returns a builder for another alias that shares p's arguments, for a
// sub-select of the same statement. Call p.merge when done.
func (p *predicates) on(alias string) *predicates {
	return &predicates{sc: p.sc, alias: alias, args: p.args}
}

// merge takes back the arguments a sub-builder added.
func (p *predicates) merge(sub *predicates) { p.args = sub.args }

// arg adds a parameter and returns its placeholder.
func (p *predicates) arg(v any) string {
	p.args = append(p.args, v)
	return fmt.Sprintf("$%d", len(p.args))
}

// cond adds a condition template without a parameter ({col} names expand on
// p's alias), e.g. a literal that a partial index's predicate must match.
func (p *predicates) cond(tmpl string) {
	p.conds = append(p.conds, p.sc.expand(strings.ReplaceAll(tmpl, "{", "{"+p.aliasDot())))
}

func (p *predicates) aliasDot() string {
	if p.alias == "" {
		return ""
	}
	return p.alias + "."
}

// cmp adds "column op value".
func (p *predicates) cmp(col, op string, v any) {
	p.conds = append(p.conds, p.sc.col(p.alias, col)+" "+op+" "+p.arg(v)+p.sc.casts[col])
}

// sameAs adds "column = other.column": a correlated sub-select's join.
func (p *predicates) sameAs(col, other string) {
	p.conds = append(p.conds, p.sc.col(p.alias, col)+" = "+p.sc.col(other, col))
}

// eq adds "column = value".
func (p *predicates) eq(col string, v any) { p.cmp(col, "=", v) }

// streamIDCmp compares stream ids in byte order (COLLATE "C"), the order of
// the stream listings' indexes.
func (p *predicates) streamIDCmp(op, v string) {
	p.conds = append(p.conds, p.sc.col(p.alias, "stream_id")+p.sc.collate+" "+op+" "+p.arg(v)+p.sc.casts["stream_id"])
}

// streamIDPrefix keeps stream ids starting with prefix, taken literally.
// Ids that are not text (uuid) are matched on their text form.
func (p *predicates) streamIDPrefix(prefix string) {
	if !p.sc.textIDs {
		p.conds = append(p.conds, p.sc.col(p.alias, "stream_id")+"::text LIKE "+p.arg(likePrefix(prefix)))
		return
	}
	p.streamIDCmp("LIKE", likePrefix(prefix))
}

// logAfter keeps the events after (op ">") or before ("<") a place in the
// global log of a table without a position: one row comparison, which an
// index on (time, stream, version) serves.
func (p *predicates) logAfter(op string, k logKey) {
	p.conds = append(p.conds, "("+p.sc.col(p.alias, "recorded_at")+", "+p.sc.col(p.alias, "stream_id")+", "+p.sc.col(p.alias, "version")+") "+op+
		" ("+p.arg(k.at)+p.sc.casts["recorded_at"]+", "+p.arg(k.streamID)+p.sc.casts["stream_id"]+", "+p.arg(k.version)+")")
}

// metaEq keeps events whose metadata key equals v. The ? test lets the
// planner use the partial expression indexes on the key.
func (p *predicates) metaEq(key, v string) {
	p.conds = append(p.conds, p.sc.metaHas(p.alias, key)+" AND "+p.sc.metaText(p.alias, key)+" = "+p.arg(v))
}

// in is the statement tmpl with its names expanded and {where} replaced by
// the conditions. The conditions are already SQL: they are not expanded
// again, so a metadata key can never be read as a name.
func (p *predicates) in(tmpl string) string {
	return strings.Replace(p.sc.expand(tmpl), whereMark, p.sql(), 1)
}

// sql is the conditions joined with AND ("true" when there are none).
func (p *predicates) sql() string {
	if len(p.conds) == 0 {
		return "true"
	}
	return strings.Join(p.conds, " AND ")
}
