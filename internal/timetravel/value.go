package timetravel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// DecodeJSON decodes one JSON value keeping numbers as json.Number, so that
// money amounts keep their exact text ("10.50" stays "10.50"). It is the one
// decoder of JSON values that are folded, compared or shown.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// deepCopy copies objects and arrays; scalars are immutable and shared.
func deepCopy(v any) any {
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c))
		for k, e := range c {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(c))
		for i, e := range c {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

// JSONEqual compares two decoded JSON values; numbers compare by value, so
// 1, 1.0 and 1e0 are equal, and a number never equals a string.
func JSONEqual(a, b any) bool { return jsonEqual(a, b, false) }

// JSONEqualNumericText is JSONEqual, except that a number also equals a
// string holding the same decimal number ("10.50" equals 10.5): a numeric
// column of a read model may reach auditd as text (drift checks).
func JSONEqualNumericText(a, b any) bool { return jsonEqual(a, b, true) }

func jsonEqual(a, b any, numericText bool) bool {
	if numericText {
		if x, ok := numberText(a); ok {
			if y, ok := b.(string); ok {
				return sameNumber(x, strings.TrimSpace(y))
			}
		}
		if y, ok := numberText(b); ok {
			if x, ok := a.(string); ok {
				return sameNumber(strings.TrimSpace(x), y)
			}
		}
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv, numericText) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], numericText) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	xs, ok1 := numberText(a)
	ys, ok2 := numberText(b)
	return ok1 && ok2 && sameNumber(xs, ys)
}

// sameNumber compares two decimal texts by value.
func sameNumber(xs, ys string) bool {
	if xs == ys {
		return xs != ""
	}
	xr, err1 := parseDecimal(xs)
	yr, err2 := parseDecimal(ys)
	return err1 == nil && err2 == nil && xr.rat.Cmp(yr.rat) == 0
}

// JSONText renders a decoded JSON value as compact JSON text, without HTML
// escaping (templ escapes, and people must read "<", not "\u003c").
func JSONText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// numberText returns the decimal text of a JSON number held as json.Number or
// as a Go number (states built by hand in tests or by callers).
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), true
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// typeName is the JSON type name of a decoded value, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	if _, ok := numberText(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func withArticle(s string) string {
	switch s {
	case "object", "array", "integer":
		return "an " + s
	case "null":
		return s
	}
	return "a " + s
}

// walkLeaves calls fn with the pointer and value of every leaf of v, v being
// at ptr. Object keys are visited in sorted order so results are stable.
func walkLeaves(ptr string, v any, fn func(ptr string, v any)) {
	buf := ptrBuf{b: append(make([]byte, 0, len(ptr)+64), ptr...)}
	buf.walkLeaves(v, fn)
}

// ptrBuf builds pointers while descending a document: tokens are pushed and
// popped on one buffer, so a walk costs O(depth) per leaf instead of
// concatenating a new string at every level (quadratic on deep payloads).
type ptrBuf struct{ b []byte }

func (p *ptrBuf) push(tok string) int {
	n := len(p.b)
	p.b = append(p.b, '/')
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; c {
		case '~':
			p.b = append(p.b, '~', '0')
		case '/':
			p.b = append(p.b, '~', '1')
		default:
			p.b = append(p.b, c)
		}
	}
	return n
}

func (p *ptrBuf) pushIndex(i int) int {
	n := len(p.b)
	p.b = append(p.b, '/')
	p.b = strconv.AppendInt(p.b, int64(i), 10)
	return n
}

func (p *ptrBuf) pop(n int)      { p.b = p.b[:n] }
func (p *ptrBuf) String() string { return string(p.b) }

func (p *ptrBuf) walkLeaves(v any, fn func(ptr string, v any)) {
	switch c := v.(type) {
	case map[string]any:
		if len(c) == 0 {
			fn(p.String(), v)
			return
		}
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n := p.push(k)
			p.walkLeaves(c[k], fn)
			p.pop(n)
		}
	case []any:
		if len(c) == 0 {
			fn(p.String(), v)
			return
		}
		for i, e := range c {
			n := p.pushIndex(i)
			p.walkLeaves(e, fn)
			p.pop(n)
		}
	default:
		fn(p.String(), v)
	}
}
