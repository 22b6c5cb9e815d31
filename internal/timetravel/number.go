package timetravel

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Limits that keep hostile numbers ("1e999999999") from turning one inc into
// minutes of big-number arithmetic.
const (
	maxNumberLen      = 400
	maxNumberExponent = 1000
)

type decimal struct {
	rat   *big.Rat
	scale int // digits after the decimal point needed to print it exactly
	isInt bool
}

// parseDecimal parses JSON number text (or a plain decimal string such as
// "12.50") exactly.
func parseDecimal(s string) (decimal, error) {
	if s == "" || len(s) > maxNumberLen {
		return decimal{}, fmt.Errorf("%q is not a number this tool handles", s)
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e := s[i+1:]
		neg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			neg = e[0] == '-'
			e = e[1:]
		}
		if e == "" || !allDigits(e) {
			return decimal{}, fmt.Errorf("%q is not a number", s)
		}
		if len(e) > 4 {
			return decimal{}, fmt.Errorf("%q: exponent too large", s)
		}
		for _, c := range e {
			exp = exp*10 + int(c-'0')
		}
		if exp > maxNumberExponent {
			return decimal{}, fmt.Errorf("%q: exponent too large", s)
		}
		if neg {
			exp = -exp
		}
	}
	m := strings.TrimPrefix(mant, "-")
	intPart, frac, hasDot := strings.Cut(m, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return decimal{}, fmt.Errorf("%q is not a number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return decimal{}, fmt.Errorf("%q is not a number", s)
	}
	scale := len(frac) - exp
	if scale < 0 {
		scale = 0
	}
	return decimal{rat: r, scale: scale, isInt: !hasDot && exp == 0}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// addDecimal returns a+b (a-b when sub) as exact decimal text. Integers stay
// integers; otherwise the result has as many fraction digits as the more
// precise operand, so "10.50" + "0.25" is "10.75" and 0.1 + 0.2 is "0.3".
func addDecimal(a, b string, sub bool) (string, error) {
	x, err := parseDecimal(a)
	if err != nil {
		return "", err
	}
	y, err := parseDecimal(b)
	if err != nil {
		return "", err
	}
	if x.isInt && y.isInt {
		xi, yi := new(big.Int).Set(x.rat.Num()), y.rat.Num()
		if sub {
			return xi.Sub(xi, yi).String(), nil
		}
		return xi.Add(xi, yi).String(), nil
	}
	r := new(big.Rat)
	if sub {
		r.Sub(x.rat, y.rat)
	} else {
		r.Add(x.rat, y.rat)
	}
	return r.FloatString(max(x.scale, y.scale)), nil
}

// numericOperand extracts the number text of an inc/dec operand or target.
// Strings holding a plain decimal ("12.50") are accepted because many
// systems serialise money as strings; asString says so, so that the result
// keeps the representation of the target.
func numericOperand(v any) (text string, asString bool, err error) {
	if s, ok := numberText(v); ok {
		return s, false, nil
	}
	if s, ok := v.(string); ok {
		if _, perr := parseDecimal(s); perr == nil && !strings.ContainsAny(s, "eE") {
			return s, true, nil
		}
		return "", false, fmt.Errorf("string %q is not a decimal number", truncate(s, 40))
	}
	return "", false, errors.New(typeName(v) + " is not a number")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
