package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mapping describes an application's own event table (the configuration
// file's "source" section) and, optionally, its checkpoints table
// ("checkpoints"). A nil *Mapping, or one without a Source, is auditd's
// own schema.
type Mapping struct {
	Source      *Source
	Checkpoints *CheckpointsMapping
}

// Source is the "source" section: which table holds the events and which of
// its columns hold what.
type Source struct {
	Table string // schema-qualified or not: "public.events"
	// Columns maps a logical column (MappedColumns) to a column of Table;
	// a logical column absent from the map is null (the table has none).
	Columns map[string]string
	// StreamType is a constant stream type, used when Columns has no
	// "stream_type"; SplitStreamType, when set, takes it from the stream
	// id's part before the first SplitStreamType instead, and
	// JoinStreamType from a column of another table.
	StreamType      string
	SplitStreamType string
	JoinStreamType  *StreamTypeJoin
	TimeZone        string            // how timestamps without time zone are read; default UTC
	MetadataKeys    map[string]string // logical metadata key -> key in the metadata object
	// Where holds equality filters: column -> the value (string, number,
	// boolean, or nil for NULL) the rows auditd reads have.
	Where          map[string]any
	ExcludeStreams ExcludeStreams
}

// StreamTypeJoin takes a stream's type from another table:
// {"join": {"table": "streams", "on": {"stream_id": "id"}, "column": "type"}}
// reads streams.type where streams.id is the event's stream id.
type StreamTypeJoin struct {
	Table  string            `json:"table"`
	On     map[string]string `json:"on"`
	Column string            `json:"column"`
}

// ExcludeStreams drops housekeeping streams by id.
type ExcludeStreams struct {
	Prefix   []string `json:"prefix"`
	Suffix   []string `json:"suffix"`
	Contains []string `json:"contains"`
}

// CheckpointsMapping is the "checkpoints" section: the application's table
// of projection positions.
type CheckpointsMapping struct {
	Table   string
	Columns map[string]string // name, position, updated_at, last_error
}

// MappedColumns are the logical columns a source may name, in the order of
// the documentation.
var MappedColumns = []string{
	"position", "event_id", "stream_id", "stream_type", "version", "event_type",
	"schema_version", "payload", "metadata", "recorded_at",
	"correlation_id", "causation_id", "actor",
}

// requiredColumns cannot be null in this version of the mapping.
// A table without a position (seed 004) is read in time order.
var requiredColumns = []string{"stream_id", "event_type", "payload", "recorded_at"}

// streamTypeForms is what source.stream_type may be, for error messages.
const streamTypeForms = `a constant string, {"split": "-"} or {"join": {"table": "…", "on": {"stream_id": "id"}, "column": "type"}}`

var checkpointColumns = []string{"name", "position", "updated_at", "last_error"}

var metadataKeyNames = []string{MetaCorrelationID, MetaCausationID, MetaActor, MetaSource}

// MappingError is a configuration error naming the key at fault
// ("source.columns.stream_id").
type MappingError struct {
	Key     string
	Message string
}

func (e *MappingError) Error() string { return e.Key + ": " + e.Message }

func mappingErr(key, format string, args ...any) error {
	return &MappingError{Key: key, Message: fmt.Sprintf(format, args...)}
}

// ParseMapping reads the "source" and "checkpoints" sections of the
// configuration file (its other sections belong to other features). It
// returns nil, nil when the file has no source: auditd's own schema.
func ParseMapping(data []byte) (*Mapping, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("the configuration must be a JSON object: %w", err)
	}
	rawSource, hasSource := top["source"]
	rawCP, hasCP := top["checkpoints"]
	if !hasSource {
		if hasCP {
			return nil, mappingErr("checkpoints", "needs a source section: auditd's own schema has its own checkpoints table")
		}
		return nil, nil
	}
	m := &Mapping{}
	var err error
	if m.Source, err = parseSource(rawSource); err != nil {
		return nil, err
	}
	if hasCP {
		if m.Checkpoints, err = parseCheckpoints(rawCP); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// object decodes raw as a JSON object whose keys are among allowed.
func object(key string, raw json.RawMessage, allowed []string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, mappingErr(key, "must be a JSON object")
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return nil, mappingErr(key+"."+k, "unknown key (want one of %s)", strings.Join(allowed, ", "))
		}
	}
	return obj, nil
}

// text decodes a JSON string that must not be empty. No string of the
// configuration may hold a NUL: PostgreSQL text cannot, and the statement
// templates use it as a marker.
func text(key string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || strings.TrimSpace(s) == "" || strings.ContainsRune(s, 0) {
		return "", mappingErr(key, "must be a non-empty string")
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// columnMap decodes {"logical": "column" | null}.
func columnMap(key string, raw json.RawMessage, allowed []string) (map[string]string, error) {
	obj, err := object(key, raw, allowed)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range obj {
		if isNull(v) {
			continue
		}
		col, err := text(key+"."+k, v)
		if err != nil {
			return nil, mappingErr(key+"."+k, "must be a column name or null")
		}
		out[k] = col
	}
	return out, nil
}

func parseSource(raw json.RawMessage) (*Source, error) {
	obj, err := object("source", raw, []string{"table", "columns", "stream_type", "time_zone", "metadata_keys", "where", "exclude_streams"})
	if err != nil {
		return nil, err
	}
	src := &Source{TimeZone: "UTC", MetadataKeys: map[string]string{}}
	if src.Table, src.Columns, err = tableAndColumns("source", obj, MappedColumns, requiredColumns); err != nil {
		return nil, err
	}
	if raw, ok := obj["stream_type"]; ok && !isNull(raw) {
		if err := parseStreamType(src, raw); err != nil {
			return nil, err
		}
		if src.Columns["stream_type"] != "" {
			return nil, mappingErr("source.stream_type", "is given twice: columns.stream_type names a column already")
		}
	} else if src.Columns["stream_type"] == "" {
		return nil, mappingErr("source.stream_type", "is required when columns.stream_type is null: "+streamTypeForms)
	}
	if raw, ok := obj["time_zone"]; ok {
		if src.TimeZone, err = text("source.time_zone", raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := obj["metadata_keys"]; ok {
		keys, err := object("source.metadata_keys", raw, metadataKeyNames)
		if err != nil {
			return nil, err
		}
		for k, v := range keys {
			if src.MetadataKeys[k], err = text("source.metadata_keys."+k, v); err != nil {
				return nil, err
			}
		}
	}
	if raw, ok := obj["where"]; ok {
		if err := json.Unmarshal(raw, &src.Where); err != nil || src.Where == nil {
			return nil, mappingErr("source.where", `must be an object of column: value equalities, e.g. {"is_archived": false}`)
		}
		for k, v := range src.Where {
			if strings.ContainsRune(k, 0) {
				return nil, mappingErr("source.where", "a column name holds a NUL")
			}
			switch v := v.(type) {
			case nil, float64, bool:
			case string:
				if strings.ContainsRune(v, 0) {
					return nil, mappingErr("source.where."+k, "must not hold a NUL")
				}
			default:
				return nil, mappingErr("source.where."+k, "must be a string, number, boolean or null")
			}
		}
	}
	if raw, ok := obj["exclude_streams"]; ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&src.ExcludeStreams); err != nil {
			return nil, mappingErr("source.exclude_streams", `must be {"prefix": [...], "suffix": [...], "contains": [...]} (%v)`, err)
		}
		ex := src.ExcludeStreams
		for _, list := range [][]string{ex.Prefix, ex.Suffix, ex.Contains} {
			for _, v := range list {
				if v == "" || strings.ContainsRune(v, 0) {
					return nil, mappingErr("source.exclude_streams", "an entry is empty or holds a NUL")
				}
			}
		}
	}
	return src, nil
}

// parseStreamType reads source.stream_type: a constant, a split or a join.
func parseStreamType(src *Source, raw json.RawMessage) error {
	if json.Unmarshal(raw, &src.StreamType) == nil {
		if strings.TrimSpace(src.StreamType) == "" || strings.ContainsRune(src.StreamType, 0) {
			return mappingErr("source.stream_type", "must not be empty")
		}
		return nil
	}
	var form struct {
		Split *string         `json:"split"`
		Join  *StreamTypeJoin `json:"join"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&form); err != nil || (form.Split == nil) == (form.Join == nil) {
		return mappingErr("source.stream_type", "must be "+streamTypeForms)
	}
	if form.Split != nil {
		if *form.Split == "" || strings.ContainsRune(*form.Split, 0) {
			return mappingErr("source.stream_type.split", "must be a non-empty separator")
		}
		src.SplitStreamType = *form.Split
		return nil
	}
	j := form.Join
	if j.Table == "" || j.Column == "" || strings.ContainsRune(j.Table+j.Column, 0) {
		return mappingErr("source.stream_type.join", `needs "table" and "column"`)
	}
	if len(j.On) != 1 || j.On["stream_id"] == "" || strings.ContainsRune(j.On["stream_id"], 0) {
		return mappingErr("source.stream_type.join.on", `must be {"stream_id": "<column of %s holding the stream id>"}`, j.Table)
	}
	src.JoinStreamType = j
	return nil
}

func parseCheckpoints(raw json.RawMessage) (*CheckpointsMapping, error) {
	obj, err := object("checkpoints", raw, []string{"table", "columns"})
	if err != nil {
		return nil, err
	}
	cp := &CheckpointsMapping{}
	if cp.Table, cp.Columns, err = tableAndColumns("checkpoints", obj, checkpointColumns, []string{"name", "position"}); err != nil {
		return nil, err
	}
	return cp, nil
}

// tableAndColumns reads a section's "table" and "columns" keys; required
// logical columns must name a column.
func tableAndColumns(section string, obj map[string]json.RawMessage, allowed, required []string) (string, map[string]string, error) {
	table, err := text(section+".table", obj["table"])
	if err != nil {
		return "", nil, err
	}
	if _, ok := obj["columns"]; !ok {
		return "", nil, mappingErr(section+".columns", "is required")
	}
	cols, err := columnMap(section+".columns", obj["columns"], allowed)
	if err != nil {
		return "", nil, err
	}
	for _, c := range required {
		if cols[c] == "" {
			return "", nil, mappingErr(section+".columns."+c, "must name a column: a table without one is not supported yet")
		}
	}
	return table, cols, nil
}

// Catalog is what Validate learned of the mapped tables: each mapped
// column's type, as format_type prints it.
type Catalog struct {
	Table       string            // the source table, schema-qualified and quoted
	Types       map[string]string // logical column -> column type
	WhereTypes  map[string]string // column of source.where -> its type
	Nullable    map[string]bool   // logical column -> the column may hold NULL
	JoinTable   string            // the stream_type join's table, quoted ("" when none)
	Checkpoints string            // the checkpoints table, quoted ("" when none)
}

// Validate checks the mapping against the database's catalog: a missing
// table or column is an error naming the key, what the table has and the
// nearest match. It reads the catalog only.
func (m *Mapping) Validate(ctx context.Context, db DB) (*Catalog, error) {
	cat := &Catalog{Types: map[string]string{}, WhereTypes: map[string]string{}, Nullable: map[string]bool{}}
	src := m.Source
	table, cols, err := tableColumns(ctx, db, "source.table", src.Table)
	if err != nil {
		return nil, err
	}
	cat.Table = table
	for _, logical := range MappedColumns {
		name := src.Columns[logical]
		if name == "" {
			continue
		}
		typ, err := columnType("source.columns."+logical, table, name, cols)
		if err != nil {
			return nil, err
		}
		cat.Types[logical] = typ
		cat.Nullable[logical] = !cols.notNull[name]
	}
	for k := range src.Where {
		if cat.WhereTypes[k], err = columnType("source.where."+k, table, k, cols); err != nil {
			return nil, err
		}
	}
	if j := src.JoinStreamType; j != nil {
		jt, jcols, err := tableColumns(ctx, db, "source.stream_type.join.table", j.Table)
		if err != nil {
			return nil, err
		}
		cat.JoinTable = jt
		if _, err := columnType("source.stream_type.join.on.stream_id", jt, j.On["stream_id"], jcols); err != nil {
			return nil, err
		}
		if _, err := columnType("source.stream_type.join.column", jt, j.Column, jcols); err != nil {
			return nil, err
		}
	}
	var known bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)`, src.TimeZone).Scan(&known); err != nil {
		return nil, fmt.Errorf("eventstore: unable to read time zones: %w", err)
	}
	if !known {
		return nil, mappingErr("source.time_zone", "%q is not a time zone PostgreSQL knows (e.g. UTC, Europe/Paris)", src.TimeZone)
	}
	if cp := m.Checkpoints; cp != nil {
		table, cols, err := tableColumns(ctx, db, "checkpoints.table", cp.Table)
		if err != nil {
			return nil, err
		}
		cat.Checkpoints = table
		for _, logical := range checkpointColumns {
			if name := cp.Columns[logical]; name != "" {
				if _, err := columnType("checkpoints.columns."+logical, table, name, cols); err != nil {
					return nil, err
				}
			}
		}
	}
	return cat, nil
}

// tableColumns resolves a table name the way the search path does and reads
// its columns' types.
// tableCols are a table's columns in table order, and their types.
type tableCols struct {
	names   []string
	types   map[string]string
	notNull map[string]bool
}

func tableColumns(ctx context.Context, db DB, key, name string) (string, tableCols, error) {
	var qualified *string
	if err := db.QueryRow(ctx, `
		SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, name).Scan(&qualified); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		// to_regclass rejects a malformed name with an error.
		return "", tableCols{}, mappingErr(key, "%q is not a valid table name", name)
	}
	if qualified == nil {
		rows, err := db.Query(ctx, `
			SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'auditd')
			ORDER BY 1`)
		if err != nil {
			return "", tableCols{}, fmt.Errorf("eventstore: unable to list tables: %w", err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", tableCols{}, fmt.Errorf("eventstore: unable to list tables: %w", err)
		}
		return "", tableCols{}, mappingErr(key, "table %q not found; the database has %s%s", name, listOrNone(tables), nearestHint(name, tables))
	}
	rows, err := db.Query(ctx, `
		SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, name)
	if err != nil {
		return "", tableCols{}, fmt.Errorf("eventstore: unable to read the columns of %s: %w", name, err)
	}
	cols := tableCols{types: map[string]string{}, notNull: map[string]bool{}}
	var colName, colType string
	var notNull bool
	_, err = pgx.ForEachRow(rows, []any{&colName, &colType, &notNull}, func() error {
		cols.types[colName] = colType
		cols.notNull[colName] = notNull
		cols.names = append(cols.names, colName)
		return nil
	})
	if err != nil {
		return "", tableCols{}, fmt.Errorf("eventstore: unable to read the columns of %s: %w", name, err)
	}
	return *qualified, cols, nil
}

func columnType(key, table, name string, cols tableCols) (string, error) {
	if t, ok := cols.types[name]; ok {
		return t, nil
	}
	return "", mappingErr(key, "column %q not found in %s; it has %s%s", name, table, listOrNone(cols.names), nearestHint(name, cols.names))
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// nearestHint names the candidate closest to name, when one is close enough
// to be a likely typo.
func nearestHint(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if _, short, ok := strings.Cut(c, "."); ok && !strings.Contains(name, ".") {
			d = min(d, editDistance(strings.ToLower(name), strings.ToLower(short)))
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(name)/2) {
		return ""
	}
	return fmt.Sprintf(" (nearest: %q)", best)
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// NewMapped returns a read-only Store on an application's event table,
// described by m and checked against the catalog (Validate).
func NewMapped(pool *pgxpool.Pool, m *Mapping, cat *Catalog) (*Store, error) {
	sc, err := mappedSchema(m, cat)
	if err != nil {
		return nil, err
	}
	// encoding/json writes map keys sorted: the same mapping, the same text.
	text, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("eventstore: unable to fingerprint the mapping: %w", err)
	}
	sum := sha256.Sum256(text)
	return &Store{db: pool, pool: pool, sc: sc, source: hex.EncodeToString(sum[:])}, nil
}

// ErrReadOnly is returned by the writes of a Store on an application's
// table: auditd never writes there.
var ErrReadOnly = errors.New("eventstore: the mapped event table is read-only to auditd")

// columnCast is the cast a parameter compared with a column of type typ
// takes, the check that a user's text is a value of it, and the pattern a
// metadata value must match to be cast to it ("" for text: no cast).
func columnCast(typ string) (cast string, accept func(string) bool, pattern string) {
	switch typ {
	case "uuid":
		return "::uuid", IsEventID, uuidPattern
	case "bigint", "integer", "smallint":
		bits := map[string]int{"bigint": 64, "integer": 32, "smallint": 16}[typ]
		return "::" + typ, func(s string) bool { _, err := strconv.ParseInt(s, 10, bits); return err == nil }, `'^-?[0-9]{1,` + strconv.Itoa(len(strconv.FormatInt(1<<(bits-1)-1, 10))-1) + `}$'`
	}
	return "::text", nil, ""
}

// tmplIdent is a quoted identifier inside a column template.
func tmplIdent(name string) string {
	return strings.ReplaceAll(pgx.Identifier{name}.Sanitize(), "%", "%%")
}

// isTextType reports whether typ (format_type's text) is a character type.
func isTextType(typ string) bool {
	return typ == "text" || strings.HasPrefix(typ, "character")
}

// typeErr is the error of a mapped column whose type auditd cannot read.
func typeErr(src *Source, logical, typ, want string) error {
	return mappingErr("source.columns."+logical, "column %q is %s: want %s", src.Columns[logical], typ, want)
}

// checkTypes refuses mapped columns of a type auditd cannot read, naming
// what it can.
func checkTypes(src *Source, cat *Catalog) error {
	isInt := func(t string) bool { return t == "bigint" || t == "integer" || t == "smallint" }
	isID := func(t string) bool { return t == "uuid" || isTextType(t) || isInt(t) }
	for logical, want := range map[string]struct {
		ok   func(string) bool
		text string
	}{
		"position":       {func(t string) bool { return t == "bigint" || t == "integer" }, "bigint or integer"},
		"event_id":       {isID, "uuid, text, varchar, bigint or integer"},
		"stream_id":      {isID, "uuid, text, varchar, bigint or integer"},
		"version":        {isInt, "an integer type"},
		"schema_version": {func(t string) bool { return isInt(t) || isTextType(t) }, "an integer type, or text holding a number"},
		"stream_type":    {isTextType, "text or varchar"},
		"event_type":     {isTextType, "text or varchar"},
		"payload":        {func(t string) bool { return t == "jsonb" || t == "json" || isTextType(t) }, "jsonb, json, or text holding JSON"},
		"metadata":       {func(t string) bool { return t == "jsonb" || t == "json" || isTextType(t) }, "jsonb, json, or text holding JSON"},
		"recorded_at":    {func(t string) bool { return strings.HasPrefix(t, "timestamp") }, "timestamp with or without time zone"},
	} {
		if t, ok := cat.Types[logical]; ok && !want.ok(t) {
			return typeErr(src, logical, t, want.text)
		}
	}
	for _, c := range []string{"correlation_id", "causation_id", "actor"} {
		if src.Columns[c] != "" {
			return mappingErr("source.columns."+c, "a column for it is not supported yet: name its key in metadata_keys, or null")
		}
	}
	return nil
}

// sourceFilter is the condition the rows auditd reads meet: the where
// equalities and the stream exclusions, with the values as literals of the
// column's own type (so that an index on the column serves). Values are
// data: quoted as literals, never spliced as SQL.
func sourceFilter(src *Source, cat *Catalog) string {
	var conds []string
	for _, k := range slices.Sorted(maps.Keys(src.Where)) {
		col := pgx.Identifier{k}.Sanitize()
		switch v := src.Where[k].(type) {
		case nil:
			conds = append(conds, col+" IS NULL")
		case bool:
			conds = append(conds, col+" = "+quoteLiteral(strconv.FormatBool(v))+"::"+cat.WhereTypes[k])
		case float64:
			conds = append(conds, col+" = "+quoteLiteral(strconv.FormatFloat(v, 'f', -1, 64))+"::"+cat.WhereTypes[k])
		case string:
			conds = append(conds, col+" = "+quoteLiteral(v)+"::"+cat.WhereTypes[k])
		}
	}
	id := pgx.Identifier{src.Columns["stream_id"]}.Sanitize() + "::text"
	ex := src.ExcludeStreams
	var drop []string
	for _, p := range ex.Prefix {
		drop = append(drop, id+" LIKE "+quoteLiteral(likePrefix(p)))
	}
	for _, p := range ex.Suffix {
		drop = append(drop, id+" LIKE "+quoteLiteral("%"+strings.TrimSuffix(likePrefix(p), "%")))
	}
	for _, p := range ex.Contains {
		drop = append(drop, id+" LIKE "+quoteLiteral("%"+likePrefix(p)))
	}
	if len(drop) > 0 {
		conds = append(conds, "NOT ("+strings.Join(drop, " OR ")+")")
	}
	return strings.Join(conds, " AND ")
}

func mappedSchema(m *Mapping, cat *Catalog) (*schema, error) {
	src := m.Source
	if err := checkTypes(src, cat); err != nil {
		return nil, err
	}
	sc := &schema{
		events:   cat.Table,
		filter:   sourceFilter(src, cat),
		columns:  map[string]string{},
		selectAs: map[string]string{},
		casts:    map[string]string{},
		accepts:  map[string]func(string) bool{},
		metaKeys: map[string]string{},
		metaType: "jsonb",
		readOnly: true,
	}
	ident := func(logical string) string { return tmplIdent(src.Columns[logical]) }
	if src.Columns["position"] == "" {
		// No global position (seed 004): the log is ordered by time, then
		// stream and version, and an event's stable address is its id.
		switch {
		case src.Columns["version"] == "":
			return nil, mappingErr("source.columns.version", "must name a column when columns.position is null: events are ordered by time, stream and version")
		case src.Columns["event_id"] == "":
			return nil, mappingErr("source.columns.event_id", "must name a column when columns.position is null: it is each event's address")
		}
		sc.noPosition = true
		sc.columns["position"] = "0::bigint"
		cat.Types["position"] = "bigint"
	}
	for logical, name := range src.Columns {
		if slices.Contains(eventColumnNames, logical) {
			sc.columns[logical] = "%s" + tmplIdent(name)
		}
	}
	if src.Columns["version"] == "" {
		// No per-stream version (seed 002's revision is the global order):
		// an event's version is its rank in its stream by position, the
		// count of the stream's events up to it (among the rows the
		// source's filters keep).
		id, pos := ident("stream_id"), ident("position")
		sc.columns["version"] = "(SELECT count(*)::integer FROM " + strings.ReplaceAll(sc.from("auditd_v"), "%", "%%") +
			" WHERE auditd_v." + id + " = %t" + id + " AND auditd_v." + pos + " <= %t" + pos + ")"
	}
	if src.Columns["event_id"] == "" {
		sc.columns["event_id"] = sc.columns["position"]
		cat.Types["event_id"] = cat.Types["position"]
	}
	for _, logical := range []string{"event_id", "stream_id"} {
		var pattern string
		sc.casts[logical], sc.accepts[logical], pattern = columnCast(cat.Types[logical])
		if logical == "event_id" {
			sc.idPattern = pattern
		}
		if cat.Types[logical] != "text" {
			// Events and stream infos carry ids as text.
			sc.selectAs[logical] = "::text"
		}
	}
	sc.textIDs = isTextType(cat.Types["stream_id"])
	if sc.textIDs {
		sc.collate = ` COLLATE "C"`
	}
	switch {
	case src.Columns["stream_type"] != "":
		if cat.Types["stream_type"] != "text" {
			sc.selectAs["stream_type"] = "::text"
		}
	case src.SplitStreamType != "":
		sc.columns["stream_type"] = "split_part(%s" + ident("stream_id") + "::text, " + tmplLiteral(src.SplitStreamType) + ", 1)"
	case src.JoinStreamType != nil:
		// A correlated probe of the other table per row read: the join's
		// key is usually that table's primary key.
		j := src.JoinStreamType
		sc.columns["stream_type"] = "(SELECT auditd_j." + tmplIdent(j.Column) + "::text FROM " + strings.ReplaceAll(cat.JoinTable, "%", "%%") +
			" auditd_j WHERE auditd_j." + tmplIdent(j.On["stream_id"]) + " = %s" + ident("stream_id") + ")"
	default:
		sc.columns["stream_type"] = tmplLiteral(src.StreamType) + "::text"
	}
	if isTextType(cat.Types["event_type"]) && cat.Types["event_type"] != "text" {
		sc.selectAs["event_type"] = "::text"
	}
	switch t := cat.Types["schema_version"]; {
	case t == "":
		sc.columns["schema_version"] = "1"
	case isTextType(t):
		// "2", "v2", "2.0": the first run of digits; 1 when there is none.
		sc.columns["schema_version"] = "coalesce(substring(%s" + ident("schema_version") + " from '[0-9]{1,9}')::integer, 1)"
	case t != "integer":
		sc.selectAs["schema_version"] = "::integer"
	}
	if t := cat.Types["version"]; t != "" && t != "integer" {
		sc.selectAs["version"] = "::integer"
	}
	if src.Columns["metadata"] == "" {
		sc.columns["metadata"] = "'{}'::jsonb"
	} else if t := cat.Types["metadata"]; t != "jsonb" {
		sc.metaType = map[bool]string{true: "text", false: "json"}[isTextType(t)]
		sc.selectAs["metadata"] = "::text"
	}
	if t := cat.Types["payload"]; t != "jsonb" {
		sc.selectAs["payload"] = "::text"
	}
	for _, k := range metadataKeyNames {
		sc.metaKeys[k] = k
		if v := src.MetadataKeys[k]; v != "" {
			sc.metaKeys[k] = v
		}
	}
	if len(src.MetadataKeys) > 0 {
		sc.renamedKeys = &MetaKeys{CorrelationID: sc.metaKeys[MetaCorrelationID], CausationID: sc.metaKeys[MetaCausationID],
			Actor: sc.metaKeys[MetaActor], Source: sc.metaKeys[MetaSource]}
	}
	sc.columns["recorded_at_tz"] = sc.columns["recorded_at"]
	if cat.Types["recorded_at"] == "timestamp without time zone" {
		// Compared as stored, against the parameter moved into the
		// source's zone; read as the instant it means in that zone.
		zone := " AT TIME ZONE " + tmplLiteral(src.TimeZone)
		sc.casts["recorded_at"] = "::timestamptz" + zone
		sc.columns["recorded_at_tz"] = "(" + sc.columns["recorded_at"] + zone + ")"
		sc.selectAs["recorded_at"] = zone
	} else if cat.Types["recorded_at"] != "timestamp with time zone" {
		return nil, typeErr(src, "recorded_at", cat.Types["recorded_at"], "timestamp with or without time zone")
	}
	// A NULL where auditd expects a value is read as an empty one and the
	// event flagged (scanEvent), not a failed page.
	sc.nullDefault = map[string]string{}
	for logical, def := range map[string]string{
		"event_id": "''", "stream_id": "''", "event_type": "''", "version": "0", "schema_version": "1",
		"payload": "'null'", "metadata": "'{}'", "recorded_at": "'0001-01-01 00:00:00+00'::timestamptz",
	} {
		if cat.Nullable[logical] && src.Columns[logical] != "" {
			sc.nullDefault[logical] = def
		}
	}
	if sc.nullDefault["payload"] != "" && cat.Types["payload"] == "jsonb" {
		sc.nullDefault["payload"] = "'null'::jsonb"
	}
	if sc.nullDefault["metadata"] != "" && cat.Types["metadata"] == "jsonb" {
		sc.nullDefault["metadata"] = "'{}'::jsonb"
	}
	if cp := m.Checkpoints; cp != nil {
		sc.checkpoints = cat.Checkpoints
		sc.checkpoint = map[string]string{}
		for logical, native := range map[string]string{"name": "cp_name", "position": "cp_position", "updated_at": "cp_updated_at", "last_error": "cp_last_error"} {
			if name := cp.Columns[logical]; name != "" {
				sc.checkpoint[native] = "%s" + tmplIdent(name)
			} else {
				sc.checkpoint[native] = "NULL"
			}
		}
		sc.checkpoint["cp_error_count"] = "0"
	}
	return sc, nil
}
