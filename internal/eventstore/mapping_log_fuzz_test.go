package eventstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseEventRef: /events/{key} takes a position or an event id, outside
// input. Exactly one of them comes out of anything accepted, a position is
// positive and prints back to the digits given, an event id is a value of
// the column's type, and everything else is ErrInvalidEventRef.
func FuzzParseEventRef(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "01", "9223372036854775807", "9223372036854775808",
		"0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950", "x", "", "\x00"} {
		f.Add(s)
	}
	stores := []*Store{{sc: native}, {sc: &schema{noPosition: true, accepts: native.accepts}}}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, s := range stores {
			pos, id, err := s.ParseEventRef(raw)
			if err != nil {
				if !errors.Is(err, ErrInvalidEventRef) {
					t.Fatalf("ParseEventRef(%q): %v, want ErrInvalidEventRef", raw, err)
				}
				continue
			}
			switch {
			case id != "" && pos != 0:
				t.Fatalf("ParseEventRef(%q) = both %d and %q", raw, pos, id)
			case id != "":
				if !IsEventID(id) || id != strings.ToLower(raw) {
					t.Fatalf("ParseEventRef(%q) = id %q", raw, id)
				}
			case s.sc.noPosition || pos <= 0 || strconv.FormatInt(pos, 10) != strings.TrimLeft(raw, "0"):
				t.Fatalf("ParseEventRef(%q) = position %d", raw, pos)
			}
		}
	})
}
