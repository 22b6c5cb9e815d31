package timetravel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Reducer operations.
const (
	OpSet    = "set"    // store value at path (a final "-" appends to an array)
	OpUnset  = "unset"  // delete path (array elements shift)
	OpInc    = "inc"    // add a number to the number at path (missing = 0)
	OpDec    = "dec"    // subtract a number from the number at path (missing = 0)
	OpAppend = "append" // append one element to the array at path (created if missing)
	OpRemove = "remove" // remove every element equal to value from the array at path
	OpMerge  = "merge"  // RFC 7386 merge patch at path ("" = root; from defaults to the whole payload)
)

// Upcaster operations.
const (
	UpRename  = "rename"  // move the value at from to path
	UpDefault = "default" // set path to value when it is missing
	UpDrop    = "drop"    // delete path
)

var reducerOps = []string{OpSet, OpUnset, OpInc, OpDec, OpAppend, OpRemove, OpMerge}
var upcastOps = []string{UpRename, UpDefault, UpDrop}

// foldSemantics is part of the fingerprint: bump it whenever a change to this
// package makes the same config fold the same events differently, so that
// stored snapshots are invalidated.
const foldSemantics = "timetravel-fold/2" // 2: blame keeps the source

// ErrInvalidConfig matches every *ConfigError with errors.Is.
var ErrInvalidConfig = errors.New("timetravel: invalid config")

// ConfigError says what is wrong with a config file and where.
type ConfigError struct {
	Source string // file name, or what the caller passed to ParseConfig
	// Rule locates the offending rule in JSON-path style, e.g.
	// reducers["Wallet"]["MoneyDeposited"][0] or
	// upcasters["OrderPlaced"][0].ops[2]; empty for file-level errors.
	Rule       string
	StreamType string // reducer errors
	EventType  string
	Index      int // index of the rule or upcaster; -1 when not applicable
	Message    string
}

func (e *ConfigError) Error() string {
	if e.Rule == "" {
		return fmt.Sprintf("timetravel: config %s: %s", e.Source, e.Message)
	}
	return fmt.Sprintf("timetravel: config %s: %s: %s", e.Source, e.Rule, e.Message)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Rule is one reducer operation. Op, Path, From and Value are as written in
// the config (so the UI can show them); the rest is compiled by ParseConfig.
type Rule struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  *string         `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`

	path     Pointer
	from     Pointer
	hasFrom  bool
	hasValue bool
	value    any
}

// UpcastOp is one operation of an upcaster.
type UpcastOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`

	path  Pointer
	from  Pointer
	value any
}

// Upcaster turns the payload of an event type from schema version
// FromVersion into FromVersion+1.
type Upcaster struct {
	FromVersion int        `json:"from_version"`
	Ops         []UpcastOp `json:"ops"`
}

// Config is the parsed reducer/upcaster configuration. It is immutable once
// parsed and safe for concurrent use. The zero value (and DefaultConfig) has
// no rules: every event is folded as a merge patch of its payload.
type Config struct {
	source      string
	reducers    map[string]map[string][]Rule // stream type → event type → rules
	upcasters   map[string][]Upcaster        // event type → sorted by FromVersion
	chain       map[string]map[int]int       // event type → from_version → index in upcasters
	sections    map[string]json.RawMessage   // every top-level key, for other features
	display     map[string][]string          // event type → key payload fields (pointers) rows show
	fingerprint string
}

// DefaultConfig is the empty config.
func DefaultConfig() *Config {
	c := &Config{source: "<default>"}
	c.fingerprint = c.computeFingerprint()
	return c
}

// LoadConfig reads and parses a config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("timetravel: unable to read config %s: %w", path, err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses and validates a config; source names it in errors.
// Unknown top-level keys are kept (see Section) for other features; unknown
// keys inside reducer rules and upcasters are errors, because a typo there
// would silently fold wrong states. All problems are reported, joined.
func ParseConfig(data []byte, source string) (*Config, error) {
	if source == "" {
		source = "<config>"
	}
	fileErr := func(format string, args ...any) error {
		return &ConfigError{Source: source, Index: -1, Message: fmt.Sprintf(format, args...)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fileErr("empty file (want a JSON object such as {\"reducers\": {}})")
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil {
		return nil, fileErr("%s", describeJSONError(data, err, "the config must be a JSON object"))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fileErr("unexpected data after the JSON object")
	}
	if top == nil {
		return nil, fileErr("the config must be a JSON object, not null")
	}
	c := &Config{source: source, sections: top}
	var errs []error
	if raw, ok := top["reducers"]; ok {
		errs = append(errs, c.parseReducers(raw)...)
	}
	if raw, ok := top["upcasters"]; ok {
		errs = append(errs, c.parseUpcasters(raw)...)
	}
	if raw, ok := top["display"]; ok {
		errs = append(errs, c.parseDisplay(raw)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.fingerprint = c.computeFingerprint()
	return c, nil
}

// describeJSONError turns a decoding error into a message with a line and
// column, which is what someone fixing a file by hand needs.
func describeJSONError(data []byte, err error, typeMsg string) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return typeMsg
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "invalid JSON: unexpected end of file"
	}
	return "invalid JSON: " + err.Error()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func (c *Config) parseReducers(raw json.RawMessage) []error {
	src := c.source
	var byStream map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byStream); err != nil {
		return []error{&ConfigError{Source: src, Rule: "reducers", Index: -1,
			Message: "must be an object mapping stream types to event types to rule lists"}}
	}
	var errs []error
	c.reducers = make(map[string]map[string][]Rule, len(byStream))
	for _, st := range sortedKeys(byStream) {
		loc := fmt.Sprintf("reducers[%q]", st)
		if st == "" {
			errs = append(errs, &ConfigError{Source: src, Rule: loc, Index: -1, Message: "empty stream type"})
			continue
		}
		var byType map[string]json.RawMessage
		if err := json.Unmarshal(byStream[st], &byType); err != nil || byType == nil {
			errs = append(errs, &ConfigError{Source: src, Rule: loc, StreamType: st, Index: -1,
				Message: "must be an object mapping event types to rule lists"})
			continue
		}
		types := make(map[string][]Rule, len(byType))
		for _, et := range sortedKeys(byType) {
			loc := fmt.Sprintf("reducers[%q][%q]", st, et)
			fail := func(i int, loc, msg string) {
				errs = append(errs, &ConfigError{Source: src, Rule: loc, StreamType: st, EventType: et, Index: i, Message: msg})
			}
			if et == "" {
				fail(-1, loc, "empty event type")
				continue
			}
			var raws []json.RawMessage
			if err := json.Unmarshal(byType[et], &raws); err != nil || raws == nil {
				fail(-1, loc, "must be a list of rules")
				continue
			}
			// An explicit empty list means "this event does not change the
			// state", as opposed to no entry, which means "merge the payload".
			rules := make([]Rule, 0, len(raws))
			for i, rr := range raws {
				rloc := fmt.Sprintf("%s[%d]", loc, i)
				r, msg := compileRule(rr)
				if msg != "" {
					fail(i, rloc, msg)
					continue
				}
				rules = append(rules, r)
			}
			types[et] = rules
		}
		if len(types) > 0 {
			c.reducers[st] = types
		}
	}
	return errs
}

type ruleJSON struct {
	Op    *string         `json:"op"`
	Path  *string         `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// decodeStrict decodes one rule object rejecting unknown keys, returning a
// message fit for a ConfigError.
func decodeStrict(raw json.RawMessage, v any) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return "unknown key " + f
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return "must be an object"
			}
			return fmt.Sprintf("%q must be %s, got %s", te.Field, withArticle(goTypeName(te.Type.Kind().String())), jsonKindName(te.Value))
		}
		return "invalid: " + msg
	}
	return ""
}

func goTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "int", "int64":
		return "integer"
	case "slice":
		return "array"
	}
	return "object"
}

func jsonKindName(v string) string {
	if v == "bool" {
		return "boolean"
	}
	return v
}

func compileRule(raw json.RawMessage) (Rule, string) {
	var j ruleJSON
	if msg := decodeStrict(raw, &j); msg != "" {
		return Rule{}, msg
	}
	if j.Op == nil || *j.Op == "" {
		return Rule{}, "missing op (want one of " + strings.Join(reducerOps, ", ") + ")"
	}
	op := *j.Op
	if !slices.Contains(reducerOps, op) {
		return Rule{}, fmt.Sprintf("unknown op %q (want one of %s)", op, strings.Join(reducerOps, ", "))
	}
	r := Rule{Op: op, From: j.From, Value: j.Value}
	fail := func(format string, args ...any) (Rule, string) {
		return Rule{}, fmt.Sprintf("op %q: ", op) + fmt.Sprintf(format, args...)
	}
	if j.Path == nil {
		if op != OpMerge {
			return fail("missing path")
		}
	} else {
		r.Path = *j.Path
	}
	p, err := ParsePointer(r.Path)
	if err != nil {
		return fail("invalid path: %v", pointerMsg(err))
	}
	if p.IsRoot() && op != OpMerge {
		return fail("path must not be the document root (only merge may write the root)")
	}
	r.path = p
	hasValue, hasFrom := j.Value != nil, j.From != nil
	if hasValue && hasFrom {
		return fail("both value and from given (use one)")
	}
	if hasFrom {
		fp, err := ParsePointer(*j.From)
		if err != nil {
			return fail("invalid from: %v", pointerMsg(err))
		}
		r.from, r.hasFrom = fp, true
	}
	if hasValue {
		v, err := DecodeJSON(j.Value)
		if err != nil {
			return fail("invalid value: %v", err)
		}
		r.value, r.hasValue = v, true
	}
	switch op {
	case OpUnset:
		if hasValue || hasFrom {
			return fail("takes neither value nor from")
		}
	case OpMerge:
		if !hasValue && !hasFrom {
			r.from, r.hasFrom = Pointer{}, true // the whole payload
		}
		if p.IsRoot() && hasValue {
			if _, ok := r.value.(map[string]any); !ok {
				return fail("a merge at the root needs an object value, not %s", withArticle(typeName(r.value)))
			}
		}
	default:
		if !hasValue && !hasFrom {
			return fail("needs a value or a from pointer")
		}
	}
	if (op == OpInc || op == OpDec) && hasValue {
		s, ok := numberText(r.value)
		if !ok {
			return fail("needs a numeric value, not %s", withArticle(typeName(r.value)))
		}
		if _, err := parseDecimal(s); err != nil {
			return fail("%v", err)
		}
	}
	return r, ""
}

func pointerMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "timetravel: ")
}

func (c *Config) parseUpcasters(raw json.RawMessage) []error {
	src := c.source
	var byType map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byType); err != nil {
		return []error{&ConfigError{Source: src, Rule: "upcasters", Index: -1,
			Message: "must be an object mapping event types to upcaster lists"}}
	}
	var errs []error
	c.upcasters = make(map[string][]Upcaster, len(byType))
	c.chain = make(map[string]map[int]int, len(byType))
	for _, et := range sortedKeys(byType) {
		loc := fmt.Sprintf("upcasters[%q]", et)
		fail := func(i int, loc, msg string) {
			errs = append(errs, &ConfigError{Source: src, Rule: loc, EventType: et, Index: i, Message: msg})
		}
		if et == "" {
			fail(-1, loc, "empty event type")
			continue
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(byType[et], &raws); err != nil || raws == nil {
			fail(-1, loc, "must be a list of upcasters")
			continue
		}
		ups := make([]Upcaster, 0, len(raws))
		seen := map[int]int{}
		for i, ur := range raws {
			uloc := fmt.Sprintf("%s[%d]", loc, i)
			var uj struct {
				FromVersion *int              `json:"from_version"`
				Ops         []json.RawMessage `json:"ops"`
			}
			if msg := decodeStrict(ur, &uj); msg != "" {
				fail(i, uloc, msg)
				continue
			}
			if uj.FromVersion == nil {
				fail(i, uloc, "missing from_version")
				continue
			}
			if *uj.FromVersion < 1 {
				fail(i, uloc, fmt.Sprintf("from_version must be at least 1, not %d", *uj.FromVersion))
				continue
			}
			if prev, dup := seen[*uj.FromVersion]; dup {
				fail(i, uloc, fmt.Sprintf("from_version %d already upcast by %s[%d]", *uj.FromVersion, loc, prev))
				continue
			}
			seen[*uj.FromVersion] = i
			u := Upcaster{FromVersion: *uj.FromVersion, Ops: make([]UpcastOp, 0, len(uj.Ops))}
			ok := true
			for k, or := range uj.Ops {
				op, msg := compileUpcastOp(or)
				if msg != "" {
					fail(i, fmt.Sprintf("%s.ops[%d]", uloc, k), msg)
					ok = false
					continue
				}
				u.Ops = append(u.Ops, op)
			}
			if ok {
				ups = append(ups, u)
			}
		}
		sort.Slice(ups, func(a, b int) bool { return ups[a].FromVersion < ups[b].FromVersion })
		c.upcasters[et] = ups
		chain := make(map[int]int, len(ups))
		for i, u := range ups {
			chain[u.FromVersion] = i
		}
		c.chain[et] = chain
	}
	return errs
}

func compileUpcastOp(raw json.RawMessage) (UpcastOp, string) {
	var j ruleJSON
	if msg := decodeStrict(raw, &j); msg != "" {
		return UpcastOp{}, msg
	}
	if j.Op == nil || *j.Op == "" {
		return UpcastOp{}, "missing op (want one of " + strings.Join(upcastOps, ", ") + ")"
	}
	op := *j.Op
	if !slices.Contains(upcastOps, op) {
		return UpcastOp{}, fmt.Sprintf("unknown op %q (want one of %s)", op, strings.Join(upcastOps, ", "))
	}
	fail := func(format string, args ...any) (UpcastOp, string) {
		return UpcastOp{}, fmt.Sprintf("op %q: ", op) + fmt.Sprintf(format, args...)
	}
	u := UpcastOp{Op: op, Value: j.Value}
	if j.Path == nil {
		return fail("missing path")
	}
	u.Path = *j.Path
	p, err := ParsePointer(u.Path)
	if err != nil {
		return fail("invalid path: %v", pointerMsg(err))
	}
	if p.IsRoot() {
		return fail("path must not be the payload root")
	}
	u.path = p
	switch op {
	case UpRename:
		if j.Value != nil {
			return fail("takes no value")
		}
		if j.From == nil {
			return fail("missing from")
		}
		u.From = *j.From
		fp, err := ParsePointer(u.From)
		if err != nil {
			return fail("invalid from: %v", pointerMsg(err))
		}
		if fp.IsRoot() {
			return fail("from must not be the payload root")
		}
		if u.From == u.Path {
			return fail("from and path are the same")
		}
		u.from = fp
	case UpDefault:
		if j.From != nil {
			return fail("takes no from (use value)")
		}
		if j.Value == nil {
			return fail("missing value")
		}
		v, err := DecodeJSON(j.Value)
		if err != nil {
			return fail("invalid value: %v", err)
		}
		u.value = v
	case UpDrop:
		if j.From != nil || j.Value != nil {
			return fail("takes neither value nor from")
		}
	}
	return u, ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Source is the file name (or label) the config was parsed from.
func (c *Config) Source() string {
	if c == nil {
		return ""
	}
	return c.source
}

// Section returns the raw JSON of a top-level key, so other features (the
// projections "drift" settings) can live in the same file.
func (c *Config) Section(name string) (json.RawMessage, bool) {
	if c == nil {
		return nil, false
	}
	raw, ok := c.sections[name]
	return raw, ok
}

// MaxDisplayFields bounds the key fields an event row shows per event type.
const MaxDisplayFields = 8

// parseDisplay reads the "display" section: the key payload fields event
// rows show inline, per event type, as JSON pointers
// ({"FeeCharged": ["/amount", "/reason"]}).
func (c *Config) parseDisplay(raw json.RawMessage) []error {
	fail := func(loc, eventType, format string, args ...any) error {
		return &ConfigError{Source: c.source, Rule: loc, EventType: eventType, Index: -1, Message: fmt.Sprintf(format, args...)}
	}
	var byType map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byType); err != nil || byType == nil {
		return []error{fail("display", "", "must be an object mapping event types to lists of JSON pointers, like {\"FeeCharged\": [\"/amount\", \"/reason\"]}")}
	}
	var errs []error
	c.display = make(map[string][]string, len(byType))
	for _, et := range sortedKeys(byType) {
		loc := fmt.Sprintf("display[%q]", et)
		var paths []string
		if err := json.Unmarshal(byType[et], &paths); err != nil || paths == nil {
			errs = append(errs, fail(loc, et, "must be a list of JSON pointers such as \"/amount\""))
			continue
		}
		if len(paths) > MaxDisplayFields {
			errs = append(errs, fail(loc, et, "%d fields: at most %d fit on a row", len(paths), MaxDisplayFields))
			continue
		}
		for i, p := range paths {
			if ptr, err := ParsePointer(p); err != nil || ptr.IsRoot() {
				errs = append(errs, fail(fmt.Sprintf("%s[%d]", loc, i), et, "%q is not a JSON pointer to a payload field (like \"/amount\")", p))
			}
		}
		c.display[et] = paths
	}
	return errs
}

// Display returns the key payload fields configured for an event type's
// rows (pointers into its payload); ok is false without an entry, when
// rows show the payload's first scalar fields.
func (c *Config) Display(eventType string) (paths []string, ok bool) {
	if c == nil {
		return nil, false
	}
	paths, ok = c.display[eventType]
	return paths, ok
}

// Rules returns the reducer rules for an event type of a stream type. ok is
// false when there is no entry, in which case the payload is merged into the
// state; an entry with no rules means the event does not change the state.
func (c *Config) Rules(streamType, eventType string) (rules []Rule, ok bool) {
	if c == nil {
		return nil, false
	}
	rules, ok = c.reducers[streamType][eventType]
	return rules, ok
}

// Upcasters returns the upcasters of an event type, by from_version.
func (c *Config) Upcasters(eventType string) []Upcaster {
	if c == nil {
		return nil
	}
	return c.upcasters[eventType]
}

// Fingerprint is a stable hash of the normalised config (key order,
// whitespace and number spelling of unrelated keys do not matter). Snapshots
// record it: a snapshot folded under another fingerprint is stale. Only the
// parts that change folding are hashed, so editing the "drift" section does
// not invalidate snapshots.
func (c *Config) Fingerprint() string {
	if c == nil {
		return DefaultConfig().fingerprint
	}
	if c.fingerprint == "" {
		return c.computeFingerprint()
	}
	return c.fingerprint
}

func (c *Config) computeFingerprint() string {
	type nRule struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		From  *string         `json:"from,omitempty"`
		Value json.RawMessage `json:"value,omitempty"`
	}
	type nUpcaster struct {
		FromVersion int     `json:"from_version"`
		Ops         []nRule `json:"ops"`
	}
	canon := func(v any, has bool) json.RawMessage {
		if !has {
			return nil
		}
		b, _ := json.Marshal(v) // decoded JSON always re-encodes
		return b
	}
	norm := struct {
		Semantics string                        `json:"semantics"`
		Reducers  map[string]map[string][]nRule `json:"reducers"`
		Upcasters map[string][]nUpcaster        `json:"upcasters"`
	}{Semantics: foldSemantics, Reducers: map[string]map[string][]nRule{}, Upcasters: map[string][]nUpcaster{}}
	for st, types := range c.reducers {
		m := make(map[string][]nRule, len(types))
		for et, rules := range types {
			rs := make([]nRule, 0, len(rules))
			for _, r := range rules {
				n := nRule{Op: r.Op, Path: r.path.String(), Value: canon(r.value, r.hasValue)}
				if r.hasFrom {
					f := r.from.String()
					n.From = &f
				}
				rs = append(rs, n)
			}
			m[et] = rs
		}
		norm.Reducers[st] = m
	}
	for et, ups := range c.upcasters {
		if len(ups) == 0 {
			continue
		}
		us := make([]nUpcaster, 0, len(ups))
		for _, u := range ups {
			nu := nUpcaster{FromVersion: u.FromVersion, Ops: make([]nRule, 0, len(u.Ops))}
			for _, o := range u.Ops {
				n := nRule{Op: o.Op, Path: o.path.String(), Value: canon(o.value, o.Op == UpDefault)}
				if o.Op == UpRename {
					f := o.from.String()
					n.From = &f
				}
				nu.Ops = append(nu.Ops, n)
			}
			us = append(us, nu)
		}
		norm.Upcasters[et] = us
	}
	b, _ := json.Marshal(norm) // maps marshal with sorted keys: stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
