package projections

import (
	"errors"
	"slices"
	"testing"

	"github.com/auditd/auditd/internal/timetravel"
)

// FuzzParseDrift: drift mappings are hand-written in the reducers file. Any
// "drift" section parses or fails with ErrInvalidDrift, and a mapping that
// parses has every field pointer parsed, non-root and listed once, in order.
func FuzzParseDrift(f *testing.F) {
	for _, s := range []string{
		`{"wallets": {"stream_type": "Wallet", "table": "wallet_balances", "key_column": "wallet_id", "fields": {"/balance": "balance", "/a~1b": "ab"}}}`,
		`{"wallets": {"stream_type": "Wallet", "table": "t", "key_column": "k", "fields": {"": "root"}}}`,
		`{"wallets": {"stream_type": " ", "table": "t", "key_column": "k", "fields": {}}}`,
		`{"wallets": {"stream_type": "W", "table": "t", "key_column": "k", "fields": {"/x": ""}, "extra": 1}}`,
		`{"wallets": null}`, `[]`, `null`, `"x"`, `{"": {}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, drift string) {
		cfg, err := timetravel.ParseConfig([]byte(`{"drift": `+drift+`}`), "fuzz.json")
		if err != nil {
			return // not a JSON value: the config parser's to report
		}
		d, err := ParseDrift(cfg)
		if err != nil {
			if !errors.Is(err, ErrInvalidDrift) {
				t.Fatalf("ParseDrift: %v does not wrap ErrInvalidDrift", err)
			}
			return
		}
		for _, name := range d.Names() {
			m := d.Mappings[name]
			ptrs := m.Pointers()
			if len(ptrs) != len(m.Fields) || !slices.IsSorted(ptrs) {
				t.Fatalf("mapping %q: pointers %q for fields %v", name, ptrs, m.Fields)
			}
			for _, ptr := range ptrs {
				p, err := timetravel.ParsePointer(ptr)
				if err != nil || p.IsRoot() {
					t.Fatalf("mapping %q kept pointer %q (%v)", name, ptr, err)
				}
			}
		}
	})
}
