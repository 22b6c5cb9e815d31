package timetravel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a parsed RFC 6901 JSON pointer: its reference tokens, unescaped.
// The empty Pointer refers to the whole document.
type Pointer []string

// ErrInvalidPointer is wrapped by ParsePointer errors.
var ErrInvalidPointer = errors.New("timetravel: invalid JSON pointer")

// ErrNotFound is wrapped by Pointer.Get when nothing is at the pointer.
var ErrNotFound = errors.New("timetravel: no value at pointer")

// ParsePointer parses an RFC 6901 pointer such as "/a~1b/0".
func ParsePointer(s string) (Pointer, error) {
	if s == "" {
		return Pointer{}, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("%w %q: must be empty or start with \"/\"", ErrInvalidPointer, s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		t, err := UnescapeToken(p)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalidPointer, s, err)
		}
		parts[i] = t
	}
	return Pointer(parts), nil
}

// UnescapeToken decodes "~1" to "/" and "~0" to "~"; any other "~" is an error.
func UnescapeToken(t string) (string, error) {
	if !strings.Contains(t, "~") {
		return t, nil
	}
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '~' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(t) {
			return "", errors.New("\"~\" at the end of a token (escape it as ~0)")
		}
		switch t[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", fmt.Errorf("\"~%c\" is not an escape (want ~0 or ~1)", t[i+1])
		}
		i++
	}
	return b.String(), nil
}

// EscapeToken encodes "~" as "~0" and "/" as "~1".
func EscapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return tokenEscaper.Replace(t)
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// String returns the pointer in its RFC 6901 text form.
func (p Pointer) String() string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(EscapeToken(t))
	}
	return b.String()
}

// IsRoot reports whether p refers to the whole document.
func (p Pointer) IsRoot() bool { return len(p) == 0 }

// childPointer appends one raw token to a pointer in text form.
func childPointer(ptr, token string) string { return ptr + "/" + EscapeToken(token) }

// indexPointer appends an array index to a pointer in text form.
func indexPointer(ptr string, i int) string { return ptr + "/" + strconv.Itoa(i) }

// parentPointer strips the last token of a pointer in text form; the root's
// parent is the root.
func parentPointer(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[:i]
	}
	return ""
}

// arrayIndex parses an RFC 6901 array index: "0" or a decimal without a
// leading zero. "-" (the element after the last) is returned as n.
func arrayIndex(tok string, n int) (int, error) {
	if tok == "-" {
		return n, nil
	}
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, fmt.Errorf("%q is not an array index", tok)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, fmt.Errorf("%q is not an array index", tok)
		}
	}
	i, _ := strconv.Atoi(tok)
	return i, nil
}

// Get returns the value at p inside doc. Every failure wraps ErrNotFound and
// says where the walk stopped.
func (p Pointer) Get(doc any) (any, error) {
	cur := doc
	for i, tok := range p {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, p[:i+1])
			}
			cur = v
		case []any:
			idx, err := arrayIndex(tok, len(c))
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrNotFound, p[:i+1], err)
			}
			if idx >= len(c) {
				return nil, fmt.Errorf("%w: %s: index %d out of range (length %d)", ErrNotFound, p[:i+1], idx, len(c))
			}
			cur = c[idx]
		default:
			return nil, fmt.Errorf("%w: %s: cannot descend into %s at %q", ErrNotFound, p, typeName(cur), p[:i].String())
		}
	}
	return cur, nil
}

// Set stores v at p inside doc and returns the new document (doc itself,
// modified in place, unless p is the root). Missing or null parents are
// created as objects, which is what a reducer writing "/address/city" wants.
// For arrays, an index equal to the length or "-" appends and an existing
// index is replaced. On error doc is left exactly as it was: children are
// only assigned into their parents once the deeper levels succeeded.
func (p Pointer) Set(doc, v any) (any, error) {
	return setAt(doc, p, 0, v)
}

func setAt(node any, p Pointer, i int, v any) (any, error) {
	if i == len(p) {
		return v, nil
	}
	tok := p[i]
	switch c := node.(type) {
	case nil:
		nv, err := setAt(nil, p, i+1, v)
		if err != nil {
			return nil, err
		}
		return map[string]any{tok: nv}, nil
	case map[string]any:
		nv, err := setAt(c[tok], p, i+1, v)
		if err != nil {
			return nil, err
		}
		c[tok] = nv
		return c, nil
	case []any:
		idx, err := arrayIndex(tok, len(c))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p[:i+1], err)
		}
		if idx > len(c) {
			return nil, fmt.Errorf("%s: index %d out of range (length %d)", p[:i+1], idx, len(c))
		}
		if idx == len(c) {
			nv, err := setAt(nil, p, i+1, v)
			if err != nil {
				return nil, err
			}
			return append(c, nv), nil
		}
		nv, err := setAt(c[idx], p, i+1, v)
		if err != nil {
			return nil, err
		}
		c[idx] = nv
		return c, nil
	default:
		return nil, fmt.Errorf("cannot set %s: %q is %s", p, p[:i].String(), withArticle(typeName(node)))
	}
}

// Delete removes the value at p and returns the new document and the removed
// value. Nothing there is not an error (found is false): deleting is
// idempotent. Removing an array element shifts the following ones. The root
// cannot be deleted.
func (p Pointer) Delete(doc any) (newDoc, old any, found bool, err error) {
	if len(p) == 0 {
		return doc, nil, false, errors.New("cannot delete the document root")
	}
	parent := p[:len(p)-1]
	tok := p[len(p)-1]
	pv, gerr := parent.Get(doc)
	if gerr != nil {
		return doc, nil, false, nil
	}
	switch c := pv.(type) {
	case map[string]any:
		old, ok := c[tok]
		if !ok {
			return doc, nil, false, nil
		}
		delete(c, tok)
		return doc, old, true, nil
	case []any:
		idx, ierr := arrayIndex(tok, len(c))
		if ierr != nil || idx >= len(c) {
			return doc, nil, false, nil
		}
		old := c[idx]
		ns := make([]any, 0, len(c)-1)
		ns = append(ns, c[:idx]...)
		ns = append(ns, c[idx+1:]...)
		nd, serr := parent.Set(doc, ns)
		if serr != nil {
			return doc, nil, false, serr
		}
		return nd, old, true, nil
	default:
		return doc, nil, false, nil
	}
}
