package timetravel

import (
	"errors"
	"strings"
	"testing"
)

// rfc6901Doc is the example document of RFC 6901 section 5.
const rfc6901Doc = `{
  "foo": ["bar", "baz"],
  "": 0,
  "a/b": 1,
  "c%d": 2,
  "e^f": 3,
  "g|h": 4,
  "i\\j": 5,
  "k\"l": 6,
  " ": 7,
  "m~n": 8
}`

func TestPointerRFC6901Examples(t *testing.T) {
	t.Parallel()
	doc := mustJSON(t, rfc6901Doc)
	tests := []struct {
		ptr  string
		want string
	}{
		{"", rfc6901Doc},
		{"/foo", `["bar", "baz"]`},
		{"/foo/0", `"bar"`},
		{"/", `0`},
		{"/a~1b", `1`},
		{"/c%d", `2`},
		{"/e^f", `3`},
		{"/g|h", `4`},
		{"/i\\j", `5`},
		{"/k\"l", `6`},
		{"/ ", `7`},
		{"/m~0n", `8`},
	}
	for _, tt := range tests {
		t.Run(tt.ptr, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePointer(tt.ptr)
			if err != nil {
				t.Fatalf("ParsePointer(%q): %v", tt.ptr, err)
			}
			if p.String() != tt.ptr {
				t.Errorf("String() = %q, want %q", p.String(), tt.ptr)
			}
			got, err := p.Get(doc)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if canon(t, got) != canonJSON(t, tt.want) {
				t.Errorf("Get(%q) = %s, want %s", tt.ptr, canon(t, got), tt.want)
			}
		})
	}
}

func TestParsePointerErrorsAndEscaping(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"a", "foo/bar", "/~", "/a~", "/~2", "/x/~a"} {
		if _, err := ParsePointer(bad); !errors.Is(err, ErrInvalidPointer) {
			t.Errorf("ParsePointer(%q) err = %v, want ErrInvalidPointer", bad, err)
		}
	}
	// "~01" is "~" followed by "1", not "/": ~0 is decoded first and only once.
	p, err := ParsePointer("/~01/~10/ключ/€")
	if err != nil {
		t.Fatal(err)
	}
	want := Pointer{"~1", "/0", "ключ", "€"}
	if strings.Join(p, "|") != strings.Join(want, "|") {
		t.Errorf("tokens = %q, want %q", p, want)
	}
	if p.String() != "/~01/~10/ключ/€" {
		t.Errorf("String() = %q", p.String())
	}
	if EscapeToken("a/b~c") != "a~1b~0c" {
		t.Errorf("EscapeToken = %q", EscapeToken("a/b~c"))
	}
}

func TestPointerGetNotFound(t *testing.T) {
	t.Parallel()
	doc := mustJSON(t, rfc6901Doc)
	for _, ptr := range []string{"/nope", "/foo/2", "/foo/-", "/foo/01", "/foo/x", "/foo/0/x", "/a~1b/c"} {
		p, err := ParsePointer(ptr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Get(doc); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) err = %v, want ErrNotFound", ptr, err)
		}
	}
}

func TestPointerSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, ptr, value, want, err string
	}{
		{"replace member", `{"a":1}`, "/a", `2`, `{"a":2}`, ""},
		{"add member", `{"a":1}`, "/b", `"x"`, `{"a":1,"b":"x"}`, ""},
		{"create parents", `{}`, "/a/b/c", `true`, `{"a":{"b":{"c":true}}}`, ""},
		{"null parent becomes object", `{"a":null}`, "/a/b", `1`, `{"a":{"b":1}}`, ""},
		{"append with dash", `{"l":[1]}`, "/l/-", `2`, `{"l":[1,2]}`, ""},
		{"append at length", `{"l":[1]}`, "/l/1", `2`, `{"l":[1,2]}`, ""},
		{"replace element", `{"l":[1,2]}`, "/l/0", `9`, `{"l":[9,2]}`, ""},
		{"nested in new element", `{"l":[]}`, "/l/-/name", `"n"`, `{"l":[{"name":"n"}]}`, ""},
		{"index out of range", `{"l":[1]}`, "/l/5", `2`, `{"l":[1]}`, "out of range"},
		{"bad index", `{"l":[1]}`, "/l/01", `2`, `{"l":[1]}`, "not an array index"},
		{"through a string", `{"a":{"b":"s"}}`, "/a/b/c/d", `1`, `{"a":{"b":"s"}}`, "is a string"},
		{"through a number", `{"a":{"x":1, "b":5}}`, "/a/b/c", `1`, `{"a":{"x":1, "b":5}}`, "is a number"},
		{"root", `{"a":1}`, "", `{"b":2}`, `{"b":2}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := mustJSON(t, tt.doc)
			p, err := ParsePointer(tt.ptr)
			if err != nil {
				t.Fatal(err)
			}
			nd, err := p.Set(doc, mustJSON(t, tt.value))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if canon(t, doc) != canonJSON(t, tt.want) {
					t.Errorf("failed Set modified the document: %s", canon(t, doc))
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if canon(t, nd) != canonJSON(t, tt.want) {
				t.Errorf("got %s, want %s", canon(t, nd), tt.want)
			}
		})
	}
}

func TestPointerDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, ptr, want, old string
		found                     bool
	}{
		{"member", `{"a":1,"b":2}`, "/a", `{"b":2}`, `1`, true},
		{"element shifts", `{"l":[1,2,3]}`, "/l/0", `{"l":[2,3]}`, `1`, true},
		{"missing member", `{"a":1}`, "/b", `{"a":1}`, `null`, false},
		{"missing parent", `{"a":1}`, "/x/y", `{"a":1}`, `null`, false},
		{"out of range", `{"l":[1]}`, "/l/3", `{"l":[1]}`, `null`, false},
		{"under a scalar", `{"a":1}`, "/a/b", `{"a":1}`, `null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := ParsePointer(tt.ptr)
			nd, old, found, err := p.Delete(mustJSON(t, tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.found || canon(t, old) != tt.old || canon(t, nd) != canonJSON(t, tt.want) {
				t.Errorf("got %s old=%s found=%v, want %s old=%s found=%v", canon(t, nd), canon(t, old), found, tt.want, tt.old, tt.found)
			}
		})
	}
	if _, _, _, err := (Pointer{}).Delete(map[string]any{}); err == nil {
		t.Error("deleting the root: want an error")
	}
}
