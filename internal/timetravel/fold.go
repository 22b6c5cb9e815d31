package timetravel

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// MaxFoldErrors bounds State.Errors: a misconfigured rule on a long stream
// must not turn every event into an error kept in memory and in snapshots.
// Further errors are only counted in State.DroppedErrors.
const MaxFoldErrors = 1000

// Blame names the event that last wrote (or, in State.Touched, last wrote or
// removed) a value.
type Blame struct {
	Version    int       `json:"version"`
	EventType  string    `json:"event_type"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      string    `json:"actor"`
	// Source is the event's `source` metadata key: which API, job or tool
	// wrote it (omitted from snapshots written before it was kept).
	Source   string `json:"source,omitempty"`
	Position int64  `json:"position"`
}

// Fold error stages.
const (
	StageEvent   = "event"   // the event itself does not fit the state (other stream, version gap)
	StagePayload = "payload" // the payload is not usable JSON
	StageUpcast  = "upcast"  // an upcaster failed; the event was not folded
	StageRule    = "rule"    // one reducer rule failed; the other rules applied
)

// FoldError is a problem met while folding one event. Folding never stops on
// errors: they are recorded on the state, at the event, for the UI to show.
type FoldError struct {
	Version   int    `json:"version"`
	EventType string `json:"event_type"`
	Stage     string `json:"stage"`
	Rule      int    `json:"rule"` // index of the reducer rule (StageRule) or upcaster op (StageUpcast); -1 otherwise
	Op        string `json:"op,omitempty"`
	Path      string `json:"path,omitempty"`
	Message   string `json:"message"`
}

func (e FoldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "timetravel: event v%d %s", e.Version, e.EventType)
	if e.Stage == StageRule {
		fmt.Fprintf(&b, " rule %d (%s %s)", e.Rule, e.Op, e.Path)
	} else {
		b.WriteString(" " + e.Stage)
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

// State is the folded state of one stream after Version.
type State struct {
	StreamID   string    `json:"stream_id"`
	StreamType string    `json:"stream_type"`
	Version    int       `json:"version"` // version of the last folded event; 0 before the first
	At         time.Time `json:"at"`      // recorded_at of the last folded event (UTC)
	// Data is the state document; numbers are json.Number.
	Data map[string]any `json:"data"`
	// Blame maps the RFC 6901 pointer of every leaf of Data (scalars, empty
	// objects and empty arrays) to the event that last set it.
	Blame map[string]Blame `json:"blame"`
	// Touched maps every pointer an event wrote or removed to the last such
	// event, including pointers that no longer exist: it lets Diff name the
	// event that removed a field.
	Touched       map[string]Blame `json:"touched"`
	Errors        []FoldError      `json:"errors,omitempty"`
	DroppedErrors int              `json:"dropped_errors,omitempty"`
}

// NewState is the empty state of a stream, before its first event.
func NewState(streamID, streamType string) *State {
	st := &State{StreamID: streamID, StreamType: streamType}
	st.init()
	return st
}

func (st *State) init() {
	if st.Data == nil {
		st.Data = map[string]any{}
	}
	if st.Blame == nil {
		st.Blame = map[string]Blame{}
	}
	if st.Touched == nil {
		st.Touched = map[string]Blame{}
	}
}

// Clone returns a deep copy; the two states share nothing mutable.
func (st *State) Clone() *State {
	if st == nil {
		return nil
	}
	c := *st
	c.Data, _ = deepCopy(st.Data).(map[string]any)
	if c.Data == nil {
		c.Data = map[string]any{}
	}
	c.Blame = make(map[string]Blame, len(st.Blame))
	for k, v := range st.Blame {
		c.Blame[k] = v
	}
	c.Touched = make(map[string]Blame, len(st.Touched))
	for k, v := range st.Touched {
		c.Touched[k] = v
	}
	c.Errors = append([]FoldError(nil), st.Errors...)
	return &c
}

func (st *State) addError(e FoldError) {
	if len(st.Errors) >= MaxFoldErrors {
		st.DroppedErrors++
		return
	}
	st.Errors = append(st.Errors, e)
}

// Folder applies events to states according to a Config. It holds no
// per-stream data and is safe for concurrent use.
type Folder struct {
	cfg *Config
}

// NewFolder returns a Folder for cfg; nil means DefaultConfig.
func NewFolder(cfg *Config) *Folder {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	return &Folder{cfg: cfg}
}

// Config is the configuration the folder folds with.
func (f *Folder) Config() *Config { return f.cfg }

// Fold applies events in order to st (a new state when st is nil) and
// returns it.
func (f *Folder) Fold(st *State, events []eventstore.Event) *State {
	if st == nil {
		st = &State{}
	}
	for i := range events {
		f.Apply(st, &events[i])
	}
	return st
}

// Apply folds one event into st: the payload is upcast to the newest schema
// version, then the reducer rules of (stream type, event type) run in order,
// or, without rules, the payload is merged into the root as an RFC 7386 merge
// patch. A rule that cannot apply records a FoldError and leaves the state as
// it was before that rule; the next rules still run. Events at or below
// st.Version are ignored, so replaying an overlapping tail onto a snapshot is
// harmless. Apply never panics on any payload.
func (f *Folder) Apply(st *State, ev *eventstore.Event) {
	f.apply(st, ev, nil)
}

// Step applies ev to st like Apply and returns what it changed, leaf by
// leaf, sorted by path, each Change blamed on ev. It is meant for timelines:
// it only copies the top-level members ev writes, not the whole state.
func (f *Folder) Step(st *State, ev *eventstore.Event) []Change {
	rec := &recorder{before: map[string]captured{}}
	b, ok := f.apply(st, ev, rec)
	if !ok {
		return nil
	}
	var changes []Change
	for key, c := range rec.before {
		now, has := st.Data[key]
		diffValue(&ptrBuf{b: []byte(childPointer("", key))}, c.value, now, c.had, has, func(ch Change) {
			ch.Version, ch.EventType, ch.Actor, ch.Source, ch.RecordedAt = b.Version, b.EventType, b.Actor, b.Source, b.RecordedAt
			changes = append(changes, ch)
		})
	}
	sortChanges(changes)
	return changes
}

// recorder keeps the value of each top-level member before an event first
// writes it, for Step.
type recorder struct {
	before map[string]captured
}

type captured struct {
	value any
	had   bool
}

func (f *Folder) apply(st *State, ev *eventstore.Event, rec *recorder) (b Blame, folded bool) {
	if st == nil || ev == nil {
		return Blame{}, false
	}
	st.init()
	if st.StreamID == "" {
		st.StreamID = ev.StreamID
	}
	if st.StreamType == "" {
		st.StreamType = ev.StreamType
	}
	version := ev.Version
	if version <= 0 {
		version = st.Version + 1
	}
	if ev.StreamID != "" && ev.StreamID != st.StreamID {
		st.addError(FoldError{Version: version, EventType: ev.EventType, Stage: StageEvent, Rule: -1,
			Message: fmt.Sprintf("event belongs to stream %q, not %q; ignored", ev.StreamID, st.StreamID)})
		return Blame{}, false
	}
	if version <= st.Version {
		return Blame{}, false
	}
	if version > st.Version+1 && ev.Version > 0 {
		st.addError(FoldError{Version: version, EventType: ev.EventType, Stage: StageEvent, Rule: -1,
			Message: fmt.Sprintf("versions %d to %d are missing before this event", st.Version+1, version-1)})
	}
	meta := ev.Meta()
	b = Blame{Version: version, EventType: ev.EventType, RecordedAt: ev.RecordedAt.UTC(), Actor: meta.Actor, Source: meta.Source, Position: ev.Position}
	st.Version = version
	st.At = b.RecordedAt

	fail := func(stage string, rule int, op, path, msg string) {
		st.addError(FoldError{Version: version, EventType: ev.EventType, Stage: stage, Rule: rule, Op: op, Path: path, Message: msg})
	}
	payload, err := decodePayload(ev.Payload)
	if err != nil {
		fail(StagePayload, -1, "", "", "payload is not valid JSON: "+err.Error())
		return b, true
	}
	payload, _, err = f.upcastValue(ev.EventType, payload, eventSchemaVersion(ev))
	if err != nil {
		var ue *UpcastError
		if errors.As(err, &ue) {
			fail(StageUpcast, ue.Op, ue.OpName, ue.Path, ue.Error())
		} else {
			fail(StageUpcast, -1, "", "", err.Error())
		}
		return b, true
	}
	w := &writer{st: st, b: b, rec: rec}
	rules, ok := f.cfg.Rules(st.StreamType, ev.EventType)
	if !ok {
		if _, isObj := payload.(map[string]any); !isObj {
			fail(StagePayload, -1, OpMerge, "", fmt.Sprintf("payload is %s, not an object: cannot merge it into the state", withArticle(typeName(payload))))
			return b, true
		}
		if err := w.merge(Pointer{}, payload); err != nil {
			fail(StagePayload, -1, OpMerge, "", err.Error())
		}
		return b, true
	}
	for i := range rules {
		r := &rules[i]
		if err := w.applyRule(r, payload); err != nil {
			fail(StageRule, i, r.Op, r.Path, err.Error())
		}
	}
	return b, true
}

func decodePayload(p json.RawMessage) (any, error) {
	if len(p) == 0 {
		return map[string]any{}, nil
	}
	return DecodeJSON(p)
}

func eventSchemaVersion(ev *eventstore.Event) int {
	if ev.SchemaVersion <= 0 {
		return 1 // the store's default
	}
	return ev.SchemaVersion
}

// writer performs the writes of one event on a state and keeps Blame and
// Touched in step. Every method either fully succeeds or changes nothing.
type writer struct {
	st  *State
	b   Blame
	rec *recorder
}

func (w *writer) applyRule(r *Rule, payload any) error {
	var operand any
	switch {
	case r.hasValue:
		operand = r.value
	case r.hasFrom:
		v, err := r.from.Get(payload)
		if err != nil {
			return fmt.Errorf("payload has no %s", strings.TrimPrefix(err.Error(), ErrNotFound.Error()+": "))
		}
		operand = v
	}
	switch r.Op {
	case OpSet:
		return w.set(r.path, operand)
	case OpUnset:
		return w.unset(r.path)
	case OpInc, OpDec:
		return w.add(r.path, operand, r.Op)
	case OpAppend:
		return w.append(r.path, operand)
	case OpRemove:
		return w.remove(r.path, operand)
	case OpMerge:
		return w.merge(r.path, operand)
	}
	return fmt.Errorf("unknown op %q", r.Op)
}

// capture records the value of the top-level member ptr is under, before
// its first write by the current event.
func (w *writer) capture(ptr string) {
	if w.rec == nil || ptr == "" {
		return
	}
	tok := ptr[1:]
	if i := strings.IndexByte(tok, '/'); i >= 0 {
		tok = tok[:i]
	}
	key, err := UnescapeToken(tok)
	if err != nil {
		return
	}
	if _, done := w.rec.before[key]; done {
		return
	}
	v, had := w.st.Data[key]
	w.rec.before[key] = captured{value: deepCopy(v), had: had}
}

// store writes v at p (p not the root) and returns the pointer written, with
// a final "-" resolved to the array index it appended at.
func (w *writer) store(p Pointer, v any) (string, any, bool, error) {
	if n := len(p); n > 0 && p[n-1] == "-" {
		if arr, err := p[:n-1].Get(w.st.Data); err == nil {
			if a, ok := arr.([]any); ok {
				p = append(append(Pointer{}, p[:n-1]...), fmt.Sprint(len(a)))
			}
		}
	}
	ptr := p.String()
	old, gerr := p.Get(w.st.Data)
	had := gerr == nil
	w.capture(ptr)
	nd, err := p.Set(w.st.Data, v)
	if err != nil {
		return "", nil, false, err
	}
	w.st.Data = nd.(map[string]any)
	return ptr, old, had, nil
}

func (w *writer) set(p Pointer, v any) error {
	v = deepCopy(v)
	ptr, old, had, err := w.store(p, v)
	if err != nil {
		return err
	}
	w.replaced(ptr, old, had, v)
	return nil
}

// replaced updates blame after the subtree at ptr was replaced by v.
func (w *writer) replaced(ptr string, old any, had bool, v any) {
	if had {
		w.forget(ptr, old)
	}
	w.dropAncestorLeaves(ptr)
	w.blameLeaves(ptr, v)
	w.st.Touched[ptr] = w.b
}

// forget drops the blame of every leaf of old (the former value at ptr) and
// marks those pointers touched: this event removed or overwrote them.
func (w *writer) forget(ptr string, old any) {
	walkLeaves(ptr, old, func(lp string, _ any) {
		delete(w.st.Blame, lp)
		w.st.Touched[lp] = w.b
	})
}

func (w *writer) blameLeaves(ptr string, v any) {
	walkLeaves(ptr, v, func(lp string, _ any) {
		w.st.Blame[lp] = w.b
		w.st.Touched[lp] = w.b
	})
}

// dropAncestorLeaves removes the blame of ancestors of ptr that were leaves
// (empty containers, or a null replaced by an object) and are not anymore.
func (w *writer) dropAncestorLeaves(ptr string) {
	for i := 1; i < len(ptr); i++ {
		if ptr[i] != '/' {
			continue
		}
		a := ptr[:i]
		if _, ok := w.st.Blame[a]; ok {
			delete(w.st.Blame, a)
			w.st.Touched[a] = w.b
		}
	}
}

// leafIfEmpty blames a container that a removal left empty: it is a leaf now.
func (w *writer) leafIfEmpty(ptr string) {
	if ptr == "" {
		return
	}
	p, err := ParsePointer(ptr)
	if err != nil {
		return
	}
	v, err := p.Get(w.st.Data)
	if err != nil {
		return
	}
	switch c := v.(type) {
	case map[string]any:
		if len(c) == 0 {
			w.st.Blame[ptr] = w.b
			w.st.Touched[ptr] = w.b
		}
	case []any:
		if len(c) == 0 {
			w.st.Blame[ptr] = w.b
			w.st.Touched[ptr] = w.b
		}
	}
}

func (w *writer) unset(p Pointer) error {
	parent := p[:len(p)-1]
	pv, err := parent.Get(w.st.Data)
	if err != nil {
		return nil // nothing to unset
	}
	ptr := p.String()
	switch c := pv.(type) {
	case map[string]any:
		old, ok := c[p[len(p)-1]]
		if !ok {
			return nil
		}
		w.capture(ptr)
		delete(c, p[len(p)-1])
		w.forget(ptr, old)
		w.st.Touched[ptr] = w.b
		w.leafIfEmpty(parent.String())
	case []any:
		idx, err := arrayIndex(p[len(p)-1], len(c))
		if err != nil || idx >= len(c) {
			return nil
		}
		keep := make([]int, 0, len(c)-1)
		for i := range c {
			if i != idx {
				keep = append(keep, i)
			}
		}
		return w.reindex(parent, c, keep)
	}
	return nil
}

// reindex replaces the array at p by the elements of old at the indexes in
// keep, moving the blame of surviving elements to their new index.
func (w *writer) reindex(p Pointer, old []any, keep []int) error {
	ptr := p.String()
	ns := make([]any, 0, len(keep))
	for _, i := range keep {
		ns = append(ns, old[i])
	}
	w.capture(ptr)
	nd, err := p.Set(w.st.Data, ns)
	if err != nil {
		return err
	}
	w.st.Data = nd.(map[string]any)
	saved := make([]map[string]Blame, len(old))
	for i, el := range old {
		base := indexPointer(ptr, i)
		m := map[string]Blame{}
		walkLeaves(base, el, func(lp string, _ any) {
			if bl, ok := w.st.Blame[lp]; ok {
				m[lp[len(base):]] = bl
			}
			delete(w.st.Blame, lp)
		})
		saved[i] = m
	}
	for j, i := range keep {
		base := indexPointer(ptr, j)
		for rel, bl := range saved[i] {
			w.st.Blame[base+rel] = bl
		}
		if i != j {
			walkLeaves(base, ns[j], func(lp string, _ any) { w.st.Touched[lp] = w.b })
		}
	}
	for k := len(keep); k < len(old); k++ {
		walkLeaves(indexPointer(ptr, k), old[k], func(lp string, _ any) { w.st.Touched[lp] = w.b })
	}
	w.st.Touched[ptr] = w.b
	if len(ns) == 0 {
		w.st.Blame[ptr] = w.b
	}
	return nil
}

func (w *writer) add(p Pointer, operand any, op string) error {
	delta, _, err := numericOperand(operand)
	if err != nil {
		return fmt.Errorf("%s needs a number: %v", op, err)
	}
	cur, asString := "0", false
	if old, gerr := p.Get(w.st.Data); gerr == nil {
		var nerr error
		cur, asString, nerr = numericOperand(old)
		if nerr != nil {
			return fmt.Errorf("cannot %s %s at %s", op, withArticle(typeName(old)), p)
		}
	}
	sum, err := addDecimal(cur, delta, op == OpDec)
	if err != nil {
		return err
	}
	var v any = json.Number(sum)
	if asString {
		v = sum
	}
	return w.set(p, v)
}

func (w *writer) append(p Pointer, v any) error {
	cur, gerr := p.Get(w.st.Data)
	if gerr != nil || cur == nil {
		return w.set(p, []any{v})
	}
	arr, ok := cur.([]any)
	if !ok {
		return fmt.Errorf("cannot append to %s at %s", withArticle(typeName(cur)), p)
	}
	v = deepCopy(v)
	ptr := p.String()
	w.capture(ptr)
	nd, err := p.Set(w.st.Data, append(arr, v))
	if err != nil {
		return err
	}
	w.st.Data = nd.(map[string]any)
	if len(arr) == 0 {
		delete(w.st.Blame, ptr)
	}
	w.blameLeaves(indexPointer(ptr, len(arr)), v)
	w.st.Touched[ptr] = w.b
	return nil
}

func (w *writer) remove(p Pointer, v any) error {
	cur, gerr := p.Get(w.st.Data)
	if gerr != nil || cur == nil {
		return nil // nothing to remove from
	}
	arr, ok := cur.([]any)
	if !ok {
		return fmt.Errorf("cannot remove elements from %s at %s: not an array", withArticle(typeName(cur)), p)
	}
	keep := make([]int, 0, len(arr))
	for i, el := range arr {
		if !JSONEqual(el, v) {
			keep = append(keep, i)
		}
	}
	if len(keep) == len(arr) {
		return nil
	}
	return w.reindex(p, arr, keep)
}

func (w *writer) merge(p Pointer, patch any) error {
	if p.IsRoot() {
		if _, ok := patch.(map[string]any); !ok {
			return fmt.Errorf("a merge at the root needs an object, not %s", withArticle(typeName(patch)))
		}
	}
	ptr := p.String()
	old, _ := p.Get(w.st.Data)
	var effects []patchEffect
	res := mergePatch(old, patch, &ptrBuf{b: []byte(ptr)}, func(e patchEffect) { effects = append(effects, e) })
	if len(effects) == 0 {
		return nil
	}
	for _, e := range effects {
		w.capture(e.ptr)
	}
	if p.IsRoot() {
		w.st.Data = res.(map[string]any)
	} else {
		nd, err := p.Set(w.st.Data, res)
		if err != nil {
			return err
		}
		w.st.Data = nd.(map[string]any)
	}
	var emptied []string
	for _, e := range effects {
		if e.deleted {
			w.forget(e.ptr, e.old)
			w.st.Touched[e.ptr] = w.b
			emptied = append(emptied, parentPointer(e.ptr))
			continue
		}
		w.replaced(e.ptr, e.old, true, e.value)
	}
	for _, ptr := range emptied {
		w.leafIfEmpty(ptr)
	}
	return nil
}

// UpcastError is an upcaster that could not transform a payload.
type UpcastError struct {
	EventType   string
	FromVersion int
	Op          int    // index in the upcaster's ops
	OpName      string // rename, default or drop
	Path        string
	Err         error
}

func (e *UpcastError) Error() string {
	return fmt.Sprintf("timetravel: upcast %s v%d→v%d op %d (%s %s): %v", e.EventType, e.FromVersion, e.FromVersion+1, e.Op, e.OpName, e.Path, e.Err)
}

func (e *UpcastError) Unwrap() error { return e.Err }

// Upcast returns the payload of ev as the reducers see it, and its schema
// version after upcasting. When no upcaster applies the stored payload is
// returned as is.
func (f *Folder) Upcast(ev *eventstore.Event) (payload json.RawMessage, schemaVersion int, err error) {
	if ev == nil {
		return nil, 0, errors.New("timetravel: no event")
	}
	sv := eventSchemaVersion(ev)
	if _, ok := f.cfg.chain[ev.EventType][sv]; !ok {
		return ev.Payload, sv, nil
	}
	v, err := decodePayload(ev.Payload)
	if err != nil {
		return nil, sv, fmt.Errorf("timetravel: payload of %s is not valid JSON: %w", ev.EventType, err)
	}
	v, sv, err = f.upcastValue(ev.EventType, v, sv)
	if err != nil {
		return nil, sv, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, sv, fmt.Errorf("timetravel: unable to encode upcast payload: %w", err)
	}
	return out, sv, nil
}

// upcastValue runs the upcaster chain from schema version sv, modifying v
// (always freshly decoded from the event, so nothing else holds it).
func (f *Folder) upcastValue(eventType string, v any, sv int) (any, int, error) {
	chain := f.cfg.chain[eventType]
	ups := f.cfg.upcasters[eventType]
	for {
		i, ok := chain[sv]
		if !ok {
			return v, sv, nil
		}
		u := &ups[i]
		for k := range u.Ops {
			o := &u.Ops[k]
			nv, err := upcastOp(o, v)
			if err != nil {
				return nil, sv, &UpcastError{EventType: eventType, FromVersion: sv, Op: k, OpName: o.Op, Path: o.Path, Err: err}
			}
			v = nv
		}
		sv++
	}
}

func upcastOp(o *UpcastOp, doc any) (any, error) {
	switch o.Op {
	case UpRename:
		val, err := o.from.Get(doc)
		if err != nil {
			return doc, nil // an optional field absent from this event
		}
		nd, _, _, err := o.from.Delete(doc)
		if err != nil {
			return nil, err
		}
		return o.path.Set(nd, val)
	case UpDefault:
		if _, err := o.path.Get(doc); err == nil {
			return doc, nil
		}
		return o.path.Set(doc, deepCopy(o.value))
	case UpDrop:
		nd, _, _, err := o.path.Delete(doc)
		return nd, err
	}
	return nil, fmt.Errorf("unknown op %q", o.Op)
}
