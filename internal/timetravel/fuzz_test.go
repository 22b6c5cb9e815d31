package timetravel

import (
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// FuzzParsePointer: pointers come from reducer configs, drift mappings and
// blame links. One that parses prints back to itself (RFC 6901 text is
// canonical), and escaping any token round-trips.
func FuzzParsePointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a", "/a~1b/0", "/~0~1", "/a/~", "/a/~2", "a", "//", "/-", "/\x00", "/é/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePointer(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPointer) {
				t.Fatalf("ParsePointer(%q): %v does not wrap ErrInvalidPointer", s, err)
			}
		} else if p.String() != s {
			t.Fatalf("ParsePointer(%q).String() = %q", s, p.String())
		}
		tok, err := UnescapeToken(EscapeToken(s))
		if err != nil || tok != s {
			t.Fatalf("UnescapeToken(EscapeToken(%q)) = %q, %v", s, tok, err)
		}
		back, err := ParsePointer(Pointer{s, "x"}.String())
		if err != nil || !slices.Equal(back, Pointer{s, "x"}) {
			t.Fatalf("pointer with token %q round-trips to %q, %v", s, back, err)
		}
	})
}

// FuzzParseConfig: the reducer/upcaster file is written by hand. Any input
// parses or fails with ErrInvalidConfig; a config that parses has a stable
// fingerprint and folds any payload without panicking (Apply's promise).
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(exampleConfig), []byte(`{"amount": "12.50", "total": 3, "legacy": 1}`))
	f.Add([]byte(`{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "dec", "path": "/balance", "from": "/amount"},
		{"op": "append", "path": "/log", "from": ""}, {"op": "remove", "path": "/tags", "value": "x"},
		{"op": "unset", "path": "/old"}, {"op": "set", "path": "/a/b/0", "value": {"k": [1, 2]}},
		{"op": "merge", "path": "", "from": "/patch"}]}}}`), []byte(`{"amount": 1e3, "patch": {"a": null}}`))
	f.Add([]byte(`{"reducers": {"Wallet": {"MoneyDeposited": []}}, "upcasters": {"MoneyDeposited": [{"from_version": 1, "ops": [{"op": "set", "path": "/v", "value": 2}]}]}}`), []byte(`[]`))
	f.Add([]byte(`{"reducers": null}`), []byte(`null`))
	f.Add([]byte(`{"reducers": {"": {}}} trailing`), []byte(`"x"`))
	f.Add([]byte(`{"upcasters": {"E": [{"from_version": 2147483648, "ops": []}]}}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, src, payload []byte) {
		cfg, err := ParseConfig(src, "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("ParseConfig: %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		again, err := ParseConfig(src, "fuzz.json")
		if err != nil || again.Fingerprint() != cfg.Fingerprint() {
			t.Fatalf("second parse: %v, fingerprint %q vs %q", err, again.Fingerprint(), cfg.Fingerprint())
		}
		if !json.Valid(payload) {
			return
		}
		folder := NewFolder(cfg)
		st := NewState("wallet-1", "Wallet")
		for v := 1; v <= 2; v++ {
			ev := event(v, "MoneyDeposited", string(payload), "fuzz")
			folder.Apply(st, &ev)
			ev = event(v+2, "OrderPlaced", string(payload), "fuzz")
			_ = folder.Step(st, &ev)
		}
	})
}

// FuzzDecimal: inc/dec operands come from event payloads. Whatever the text,
// addDecimal agrees with exact rational arithmetic, its fast int64 path
// agrees with the big path, and subtracting b again gives a back.
func FuzzDecimal(f *testing.F) {
	for _, p := range [][2]string{
		{"0.1", "0.2"}, {"10.50", "0.25"}, {"-160", "160.00"}, {"9007199254740993", "1"},
		{"1e2", "0.5"}, {"2.5E+1", "-1"}, {"1", "1e99999"}, {"1.", "+1"}, {"-", "0"},
		{"99999999999999999", "1"}, {"4611686018427387904", "4611686018427387904"}, {"0.00000000000000001", "1"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, errA := parseDecimal(a)
		y, errB := parseDecimal(b)
		sum, err := addDecimal(a, b, false)
		if errA != nil || errB != nil {
			if err == nil {
				if _, _, okA := smallDecimal(a); okA {
					if _, _, okB := smallDecimal(b); okB {
						t.Fatalf("smallDecimal accepts %q/%q that parseDecimal rejects (%v, %v)", a, b, errA, errB)
					}
				}
				t.Fatalf("addDecimal(%q, %q) = %q despite parse errors %v, %v", a, b, sum, errA, errB)
			}
			return
		}
		if err != nil {
			t.Fatalf("addDecimal(%q, %q): %v", a, b, err)
		}
		got, ok := new(big.Rat).SetString(sum)
		if !ok {
			t.Fatalf("addDecimal(%q, %q) = %q, not a number", a, b, sum)
		}
		if want := new(big.Rat).Add(x.rat, y.rat); got.Cmp(want) != 0 {
			t.Fatalf("addDecimal(%q, %q) = %q, want %s", a, b, sum, want.FloatString(max(x.scale, y.scale)))
		}
		if fast, ok := addSmallDecimal(a, b, false); ok && fast != sum {
			t.Fatalf("fast path %q, big path %q for %q + %q", fast, sum, a, b)
		}
		back, err := addDecimal(sum, b, true)
		if err != nil {
			if strings.Contains(err.Error(), "not a number this tool handles") {
				return // the sum grew past the length limit: refused, not wrong
			}
			t.Fatalf("addDecimal(%q, %q, sub): %v", sum, b, err)
		}
		if r, _ := new(big.Rat).SetString(back); r.Cmp(x.rat) != 0 {
			t.Fatalf("(%q + %q) - %q = %q, want %q", a, b, b, back, a)
		}
	})
}
