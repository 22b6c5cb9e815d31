package live

import (
	"errors"
	"testing"
)

// FuzzParseCursor feeds Last-Event-ID headers and ?after= values, which come
// from anyone: a cursor that parses prints back to a text that parses to the
// same cursor, anything else is ErrInvalidCursor, and every cursor this
// server hands out parses back to itself.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{
		"0000000001A2B3C4-0", "FFFFFFFFFFFFFFFF-4294967295", "0000000000000000-0",
		" 0000000001A2B3C4-7 ", "1A2B3C4-0", "0000000001A2B3C4-", "0000000001A2B3C4--1",
		"0000000001A2B3C4-4294967296", "+000000001A2B3C4-0", "0000000001a2b3c4-1", "", "-", "\x00",
	} {
		f.Add(s, uint64(0x1A2B3C4), uint32(3))
	}
	f.Fuzz(func(t *testing.T, s string, lsn uint64, index uint32) {
		c, err := ParseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("ParseCursor(%q): %v, want ErrInvalidCursor", s, err)
			}
		} else if back, err := ParseCursor(c.String()); err != nil || back != c {
			t.Fatalf("ParseCursor(%q) = %v; its text %q parses to %v, %v", s, c, c.String(), back, err)
		}

		want := Cursor{LSN: lsn, Index: index}
		got, err := ParseCursor(want.String())
		if err != nil || got != want {
			t.Fatalf("ParseCursor(%q) = %v, %v; want %v", want.String(), got, err, want)
		}
	})
}
