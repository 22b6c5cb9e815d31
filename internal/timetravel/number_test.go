package timetravel

import (
	"math/big"
	"strings"
	"testing"
)

func TestAddDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		sub  bool
		want string
		err  bool
	}{
		{a: "0.1", b: "0.2", want: "0.3"},
		{a: "10.50", b: "0.25", want: "10.75"},
		{a: "10.00", b: "5", want: "15.00"},
		{a: "100", b: "0.01", sub: true, want: "99.99"},
		{a: "9007199254740993", b: "1", want: "9007199254740994"}, // beyond float64
		{a: "123456789012345678901234567890", b: "1", want: "123456789012345678901234567891"},
		{a: "5", b: "7", sub: true, want: "-2"},
		{a: "-0.1", b: "0.1", want: "0.0"},
		{a: "1e2", b: "0.5", want: "100.5"},
		{a: "1", b: "1e-3", want: "1.001"},
		{a: "2.5E+1", b: "1", want: "26"},
		{a: "1", b: "1e99999", err: true},
		{a: "1", b: "abc", err: true},
		{a: "1", b: "1.", err: true},
		{a: "1", b: "+1", err: true},
	}
	for _, tt := range tests {
		got, err := addDecimal(tt.a, tt.b, tt.sub)
		if tt.err {
			if err == nil {
				t.Errorf("addDecimal(%s, %s) = %s, want an error", tt.a, tt.b, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("addDecimal(%s, %s, sub=%v) = %q, %v; want %q", tt.a, tt.b, tt.sub, got, err, tt.want)
		}
	}
}

func TestJSONEqualNumbers(t *testing.T) {
	t.Parallel()
	if !JSONEqual(mustJSON(t, `{"a":[1.0, "x"]}`), mustJSON(t, `{"a":[1, "x"]}`)) {
		t.Error("1.0 and 1 should be equal")
	}
	if JSONEqual(mustJSON(t, `1`), mustJSON(t, `"1"`)) {
		t.Error("number and string should differ")
	}
	if JSONEqual(mustJSON(t, `{"a":null}`), mustJSON(t, `{}`)) {
		t.Error("null member and missing member should differ")
	}
}

// TestAddSmallDecimalMatchesBigRat checks the int64 fast path against the
// big.Rat path on many operands, including the overflow boundary.
func TestAddSmallDecimalMatchesBigRat(t *testing.T) {
	t.Parallel()
	ops := []string{"0", "-0", "1", "-1", "0.1", "0.2", "-0.05", "10.50", "99999999999999999", "-99999999999999999",
		"0.00000000000000001", "12345678.123456789", "4611686018427387903", "9.99", "-12.345", "00.10", "100"}
	for _, a := range ops {
		for _, b := range ops {
			for _, sub := range []bool{false, true} {
				x, _ := parseDecimal(a)
				y, _ := parseDecimal(b)
				r := new(big.Rat)
				if sub {
					r.Sub(x.rat, y.rat)
				} else {
					r.Add(x.rat, y.rat)
				}
				got, err := addDecimal(a, b, sub)
				if err != nil {
					t.Fatal(err)
				}
				g, ok := new(big.Rat).SetString(got)
				if !ok || g.Cmp(r) != 0 {
					t.Errorf("addDecimal(%s, %s, %v) = %s, want %s", a, b, sub, got, r.FloatString(20))
				}
				if want := max(x.scale, y.scale); want > 0 && len(got)-strings.IndexByte(got, '.')-1 != want {
					t.Errorf("addDecimal(%s, %s, %v) = %s, want %d fraction digits", a, b, sub, got, want)
				}
			}
		}
	}
}
