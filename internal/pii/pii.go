// Package pii is the masking policy for personal data: which fields of a
// stream type's state and of its events' payloads and metadata hold
// personal data, as declared in the configuration file's "pii" section,
// and the functions that replace those values with a mask in decoded JSON
// values. It knows nothing of HTTP: the web layer applies it to each page's
// result, so that every channel (HTML, JSON, CSV, SSE) shows the same
// masked data.
package pii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/auditd/auditd/internal/timetravel"
)

// Mask is what a masked value becomes, in every channel.
const Mask = "•••• masked"

// Wildcard, as a pointer token, stands for every element of an array or
// every member of an object ("/cards/*/number").
const Wildcard = "*"

// Parts of an event a pointer can name.
const (
	PartPayload  = "payload"
	PartMetadata = "metadata"
)

// ErrInvalidPolicy matches every error of Parse.
var ErrInvalidPolicy = errors.New("pii: invalid configuration")

// Policy is the parsed "pii" section. The zero value and nil mask nothing.
// It is immutable once parsed and safe for concurrent use.
type Policy struct {
	types map[string]*typePolicy // stream type → its pointers
}

// typePolicy is one stream type's masked pointers.
type typePolicy struct {
	state    []timetravel.Pointer
	metadata []timetravel.Pointer            // of every event of the stream type
	payload  map[string][]timetravel.Pointer // event type → payload pointers
	eventMD  map[string][]timetravel.Pointer // event type → metadata pointers
}

// Parse reads the "pii" section of the configuration file:
//
//	"pii": {"Wallet": {"state": ["/owner"], "metadata": ["/ip"],
//	  "events": {"WalletOpened": ["/owner"], "OwnerChanged": {"payload": ["/to"], "metadata": ["/by"]}}}}
//
// A stream type's "state" pointers name fields of its folded state; an
// event type's list (or its "payload") names fields of the payload, and
// "metadata" (per stream type, or per event type) fields of the metadata.
// A config without the section masks nothing. Every problem is reported,
// each naming its key.
func Parse(cfg *timetravel.Config) (*Policy, error) {
	raw, ok := cfg.Section("pii")
	if !ok {
		return &Policy{}, nil
	}
	return ParseSection(raw, cfg.Source())
}

// ParseSection parses the raw "pii" section; source names the file in
// errors.
func ParseSection(raw json.RawMessage, source string) (*Policy, error) {
	fail := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s: %s", ErrInvalidPolicy, source, key, fmt.Sprintf(format, args...))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, fail("pii", `must be an object mapping stream types to {"state": [...], "events": {...}}`)
	}
	p := &Policy{types: map[string]*typePolicy{}}
	var errs []error
	pointers := func(key string, raw json.RawMessage) []timetravel.Pointer {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			errs = append(errs, fail(key, `must be a list of JSON pointers, e.g. ["/owner"]`))
			return nil
		}
		out := make([]timetravel.Pointer, 0, len(list))
		for i, s := range list {
			ptr, err := timetravel.ParsePointer(s)
			switch {
			case err != nil:
				errs = append(errs, fail(fmt.Sprintf("%s[%d]", key, i), "%q is not a JSON pointer: %v", s, errors.Unwrap(err)))
			case ptr.IsRoot():
				errs = append(errs, fail(fmt.Sprintf("%s[%d]", key, i), `"" names the whole document: name a field, e.g. "/owner"`))
			default:
				out = append(out, ptr)
			}
		}
		return out
	}
	object := func(key string, raw json.RawMessage, allowed ...string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			errs = append(errs, fail(key, "must be an object"))
			return nil
		}
		for k := range m {
			if allowed != nil && !slices.Contains(allowed, k) {
				errs = append(errs, fail(key+"."+k, "unknown key (want one of %s)", strings.Join(allowed, ", ")))
				delete(m, k)
			}
		}
		return m
	}
	for streamType, body := range top {
		key := "pii." + streamType
		if strings.TrimSpace(streamType) == "" {
			errs = append(errs, fail(key, "empty stream type"))
			continue
		}
		m := object(key, body, "state", "metadata", "events")
		if m == nil {
			continue
		}
		tp := &typePolicy{payload: map[string][]timetravel.Pointer{}, eventMD: map[string][]timetravel.Pointer{}}
		if raw, ok := m["state"]; ok {
			tp.state = pointers(key+".state", raw)
		}
		if raw, ok := m["metadata"]; ok {
			tp.metadata = pointers(key+".metadata", raw)
		}
		if raw, ok := m["events"]; ok {
			for eventType, body := range object(key+".events", raw) {
				ekey := key + ".events." + eventType
				if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
					tp.payload[eventType] = pointers(ekey, body)
					continue
				}
				em := object(ekey, body, PartPayload, PartMetadata)
				if raw, ok := em[PartPayload]; ok {
					tp.payload[eventType] = pointers(ekey+".payload", raw)
				}
				if raw, ok := em[PartMetadata]; ok {
					tp.eventMD[eventType] = pointers(ekey+".metadata", raw)
				}
			}
		}
		p.types[streamType] = tp
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Empty reports whether the policy masks nothing.
func (p *Policy) Empty() bool { return p == nil || len(p.types) == 0 }

func (p *Policy) of(streamType string) *typePolicy {
	if p == nil {
		return nil
	}
	return p.types[streamType]
}

// Masks reports whether the policy masks anything in streams of streamType.
func (p *Policy) Masks(streamType string) bool { return p.of(streamType) != nil }

// StatePointers are the masked pointers of a stream type's state.
func (p *Policy) StatePointers(streamType string) []timetravel.Pointer {
	if tp := p.of(streamType); tp != nil {
		return tp.state
	}
	return nil
}

// EventPointers are the masked pointers into part (PartPayload or
// PartMetadata) of an event type's events in a stream type.
func (p *Policy) EventPointers(streamType, eventType, part string) []timetravel.Pointer {
	tp := p.of(streamType)
	if tp == nil {
		return nil
	}
	if part == PartPayload {
		return tp.payload[eventType]
	}
	return append(append([]timetravel.Pointer(nil), tp.metadata...), tp.eventMD[eventType]...)
}

// MetadataMasked reports whether the metadata pointer ptr (e.g. "/actor")
// is masked for some event of streamType, or of any stream type when
// streamType is "": a filter on that metadata value could probe it.
func (p *Policy) MetadataMasked(streamType string, ptr timetravel.Pointer) bool {
	if p == nil {
		return false
	}
	check := func(tp *typePolicy) bool {
		if covers(tp.metadata, ptr) {
			return true
		}
		for _, list := range tp.eventMD {
			if covers(list, ptr) {
				return true
			}
		}
		return false
	}
	if streamType != "" {
		tp := p.of(streamType)
		return tp != nil && check(tp)
	}
	for _, tp := range p.types {
		if check(tp) {
			return true
		}
	}
	return false
}

// covers reports whether one of list is ptr or an ancestor of it.
func covers(list []timetravel.Pointer, ptr timetravel.Pointer) bool {
	for _, m := range list {
		if matchPrefix(m, ptr) {
			return true
		}
	}
	return false
}

// IsMasked reports whether the value at the concrete pointer ptr is masked
// by one of list (ptr is at or under a masked pointer).
func IsMasked(list []timetravel.Pointer, ptr timetravel.Pointer) bool { return covers(list, ptr) }

// matchPrefix reports whether the tokens of m (wildcards matching any
// token) are a prefix of ptr's.
func matchPrefix(m, ptr timetravel.Pointer) bool {
	if len(m) > len(ptr) {
		return false
	}
	for i, t := range m {
		if t != Wildcard && t != ptr[i] {
			return false
		}
	}
	return true
}

// MaskValue returns doc with the values at every pointer of list replaced
// by Mask, and the concrete pointers masked (wildcards expanded), sorted.
// doc itself is not modified: the objects and arrays on the way to a
// masked value are copied. A pointer that leads nowhere in doc masks
// nothing and is not an error.
func MaskValue(doc any, list []timetravel.Pointer) (any, []string) {
	var found []string
	for _, ptr := range list {
		doc = maskAt(doc, ptr, "", &found)
	}
	sort.Strings(found)
	return doc, found
}

func maskAt(v any, ptr timetravel.Pointer, at string, found *[]string) any {
	if len(ptr) == 0 {
		if s, ok := v.(string); ok && s == Mask {
			return v // masked by an earlier pointer
		}
		*found = append(*found, at)
		return Mask
	}
	tok, rest := ptr[0], ptr[1:]
	switch c := v.(type) {
	case map[string]any:
		if tok == Wildcard {
			m := make(map[string]any, len(c))
			for k, e := range c {
				m[k] = maskAt(e, rest, at+"/"+timetravel.EscapeToken(k), found)
			}
			return m
		}
		e, ok := c[tok]
		if !ok {
			return v
		}
		m := make(map[string]any, len(c))
		for k, x := range c {
			m[k] = x
		}
		m[tok] = maskAt(e, rest, at+"/"+timetravel.EscapeToken(tok), found)
		return m
	case []any:
		s := append([]any(nil), c...)
		for i := range s {
			if tok == Wildcard || tok == strconv.Itoa(i) {
				s[i] = maskAt(s[i], rest, fmt.Sprintf("%s/%d", at, i), found)
			}
		}
		return s
	}
	return v
}

// MaskState returns the state data of streamType with its masked fields
// replaced, and the concrete pointers masked. data is not modified.
func (p *Policy) MaskState(streamType string, data map[string]any) (map[string]any, []string) {
	list := p.StatePointers(streamType)
	if len(list) == 0 || data == nil {
		return data, nil
	}
	v, found := MaskValue(data, list)
	m, _ := v.(map[string]any)
	return m, found
}

// MaskChange masks one change of a state at path (a leaf's pointer text)
// from old to new: when path is at or under a masked pointer both values
// are masked whole; when a masked pointer lies under path, inside them.
// Values that are nil (an add's old, a remove's new) stay nil.
func (p *Policy) MaskChange(streamType, path string, old, new any) (any, any, bool) {
	list := p.StatePointers(streamType)
	if len(list) == 0 {
		return old, new, false
	}
	ptr, err := timetravel.ParsePointer(path)
	if err != nil {
		// Not a pointer: nothing can say it is harmless.
		return maskNonNil(old), maskNonNil(new), true
	}
	if covers(list, ptr) {
		return maskNonNil(old), maskNonNil(new), old != nil || new != nil
	}
	var inner []timetravel.Pointer
	for _, m := range list {
		if len(m) > len(ptr) && matchPrefix(m[:len(ptr)], ptr) {
			inner = append(inner, m[len(ptr):])
		}
	}
	if len(inner) == 0 {
		return old, new, false
	}
	o, f1 := MaskValue(old, inner)
	n, f2 := MaskValue(new, inner)
	return o, n, len(f1)+len(f2) > 0
}

func maskNonNil(v any) any {
	if v == nil {
		return nil
	}
	return Mask
}

// MaskEvent returns an event's payload and metadata (stored JSON) with
// their masked fields replaced, and the concrete pointers masked in each.
// An event without masked fields gets its bytes back unchanged. A payload
// or metadata that is no JSON, in an event with masked fields, is masked
// whole: nothing can tell which part of it is personal.
func (p *Policy) MaskEvent(streamType, eventType string, payload, metadata json.RawMessage) (json.RawMessage, json.RawMessage, Masked) {
	var m Masked
	payload, m.Payload = maskRaw(payload, p.EventPointers(streamType, eventType, PartPayload))
	metadata, m.Metadata = maskRaw(metadata, p.EventPointers(streamType, eventType, PartMetadata))
	return payload, metadata, m
}

// Masked are the concrete pointers masked in an event, per part.
type Masked struct {
	Payload  []string `json:"payload,omitempty"`
	Metadata []string `json:"metadata,omitempty"`
}

// Any reports whether anything was masked.
func (m Masked) Any() bool { return len(m.Payload)+len(m.Metadata) > 0 }

func maskRaw(raw json.RawMessage, list []timetravel.Pointer) (json.RawMessage, []string) {
	if len(list) == 0 || len(raw) == 0 {
		return raw, nil
	}
	v, err := timetravel.DecodeJSON(raw)
	if err != nil {
		b, _ := json.Marshal(Mask)
		return b, []string{""}
	}
	v, found := MaskValue(v, list)
	if len(found) == 0 {
		return raw, nil
	}
	return Encode(v), found
}

// Encode is a decoded JSON value as JSON text, without HTML escaping
// (pages escape what they show).
func Encode(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b, _ := json.Marshal(Mask)
		return b
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}
