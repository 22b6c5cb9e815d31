package timetravel

import "testing"

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
	if !jsonEqual(mustJSON(t, `{"a":[1.0, "x"]}`), mustJSON(t, `{"a":[1, "x"]}`)) {
		t.Error("1.0 and 1 should be equal")
	}
	if jsonEqual(mustJSON(t, `1`), mustJSON(t, `"1"`)) {
		t.Error("number and string should differ")
	}
	if jsonEqual(mustJSON(t, `{"a":null}`), mustJSON(t, `{}`)) {
		t.Error("null member and missing member should differ")
	}
}
