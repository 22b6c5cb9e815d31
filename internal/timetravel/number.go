package timetravel

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
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
	if r, ok := addSmallDecimal(a, b, sub); ok {
		return r, nil
	}
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

// smallDecimal parses plain decimals of at most 17 significant digits (every
// realistic amount) into a scaled int64, so that the common inc/dec avoids
// big.Rat: it is most of the cost of folding a wallet history.
func smallDecimal(s string) (mant int64, scale int, ok bool) {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, 0, false
	}
	digits, dot := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + int64(c-'0')
			digits++
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return 0, 0, false
		}
	}
	if digits > 17 {
		return 0, 0, false
	}
	if dot >= 0 {
		scale = len(s) - dot - 1
	}
	if neg {
		mant = -mant
	}
	return mant, scale, true
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17}

func addSmallDecimal(a, b string, sub bool) (string, bool) {
	x, xs, ok1 := smallDecimal(a)
	y, ys, ok2 := smallDecimal(b)
	if !ok1 || !ok2 {
		return "", false
	}
	scale := max(xs, ys)
	// Align both to the larger scale, refusing anything that could overflow:
	// below 2^62 each, their sum still fits in an int64.
	const limit = int64(1) << 62
	align := func(v int64, k int) (int64, bool) {
		if k >= len(pow10) || abs(v) > limit/pow10[k] {
			return 0, false
		}
		return v * pow10[k], true
	}
	x, ok1 = align(x, scale-xs)
	y, ok2 = align(y, scale-ys)
	if !ok1 || !ok2 {
		return "", false
	}
	if sub {
		y = -y
	}
	r := x + y
	neg := r < 0
	if neg {
		r = -r
	}
	digits := strconv.FormatInt(r, 10)
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits, true
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
