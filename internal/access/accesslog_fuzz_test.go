package access

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A cursor from a query string either parses to one that prints back the
// same, or is refused; never a panic.
func FuzzParseAccessCursor(f *testing.F) {
	for _, s := range []string{"1733331234123456.42", "0.1", "-5.3", ".", "1.", "1.0", "99999999999999999999.1", "1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAccessCursor(s)
		if err != nil {
			return
		}
		back, err := ParseAccessCursor(c.String())
		if err != nil || back != c || c.ID <= 0 {
			t.Fatalf("%q: %+v, back %+v, %v", s, c, back, err)
		}
	})
}

// A case reference from a form or a header is either one trimmed line of
// printable text within MaxCaseRef characters, or refused; entryText
// keeps any text storable within its cap.
func FuzzCaseRefAndEntryText(f *testing.F) {
	for _, s := range []string{"ticket 4711", "", "  x  ", "a\nb", "\x00", "\xff", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ref, err := CleanCaseRef(s); err == nil {
			if ref != strings.TrimSpace(ref) || !utf8.ValidString(ref) || utf8.RuneCountInString(ref) > MaxCaseRef || strings.ContainsAny(ref, "\n\r\t\x00") {
				t.Fatalf("%q accepted as %q", s, ref)
			}
		}
		e := entryText(s)
		if !utf8.ValidString(e) || strings.ContainsRune(e, 0) || len(e) > maxEntryText {
			t.Fatalf("entryText(%q) = %q", s, e)
		}
	})
}
