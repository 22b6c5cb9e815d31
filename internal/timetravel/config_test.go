package timetravel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleConfig = `{"reducers": {"Wallet": {"MoneyDeposited": [{"op": "inc", "path": "/balance", "from": "/amount"}]}},
 "upcasters": {"OrderPlaced": [{"from_version": 1, "ops": [{"op": "rename", "from": "/total", "path": "/amount"},
                                                          {"op": "default", "path": "/currency", "value": "EUR"},
                                                          {"op": "drop", "path": "/legacy"}]}]},
 "drift": {"anything": ["goes", "here"]}}`

func TestParseConfigExample(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, exampleConfig)
	rules, ok := cfg.Rules("Wallet", "MoneyDeposited")
	if !ok || len(rules) != 1 || rules[0].Op != OpInc || rules[0].Path != "/balance" || *rules[0].From != "/amount" {
		t.Fatalf("Rules = %+v, %v", rules, ok)
	}
	if _, ok := cfg.Rules("Wallet", "MoneyWithdrawn"); ok {
		t.Error("no rules expected for MoneyWithdrawn")
	}
	ups := cfg.Upcasters("OrderPlaced")
	if len(ups) != 1 || ups[0].FromVersion != 1 || len(ups[0].Ops) != 3 || ups[0].Ops[0].From != "/total" {
		t.Fatalf("Upcasters = %+v", ups)
	}
	drift, ok := cfg.Section("drift")
	if !ok || canonJSON(t, string(drift)) != `{"anything":["goes","here"]}` {
		t.Errorf("Section(drift) = %s, %v", drift, ok)
	}
	if cfg.Source() != "test.json" {
		t.Errorf("Source = %q", cfg.Source())
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "reducers.json")
	if err := os.WriteFile(path, []byte(exampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Fingerprint() != mustConfig(t, exampleConfig).Fingerprint() {
		t.Error("same content, different fingerprint")
	}
	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: err = %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"reducers":{"Wallet":{"X":[{"op":"inc","path":"/b","value":"1"}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `reducers["Wallet"]["X"][0]`) {
		t.Errorf("bad file: err = %v", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	reducer := func(rule string) string {
		return `{"reducers":{"Wallet":{"MoneyDeposited":[{"op":"set","path":"/ok","value":1},` + rule + `]}}}`
	}
	upcaster := func(up string) string { return `{"upcasters":{"OrderPlaced":[` + up + `]}}` }
	const r1 = `reducers["Wallet"]["MoneyDeposited"][1]`
	const u0 = `upcasters["OrderPlaced"][0]`
	tests := []struct {
		name, src, where, msg string
	}{
		{"unknown op", reducer(`{"op":"multiply","path":"/b","value":2}`), r1, `unknown op "multiply"`},
		{"missing op", reducer(`{"path":"/b","value":2}`), r1, "missing op"},
		{"missing path", reducer(`{"op":"set","value":2}`), r1, `op "set": missing path`},
		{"both value and from", reducer(`{"op":"set","path":"/b","value":2,"from":"/x"}`), r1, "both value and from"},
		{"neither value nor from", reducer(`{"op":"append","path":"/b"}`), r1, "needs a value or a from"},
		{"invalid path pointer", reducer(`{"op":"set","path":"balance","value":2}`), r1, `invalid path: invalid JSON pointer "balance"`},
		{"invalid from pointer", reducer(`{"op":"set","path":"/b","from":"/a~2"}`), r1, "invalid from"},
		{"inc with a string", reducer(`{"op":"inc","path":"/b","value":"10"}`), r1, "needs a numeric value, not a string"},
		{"dec with an object", reducer(`{"op":"dec","path":"/b","value":{}}`), r1, "needs a numeric value, not an object"},
		{"unset with value", reducer(`{"op":"unset","path":"/b","value":1}`), r1, "takes neither value nor from"},
		{"set at root", reducer(`{"op":"set","path":"","value":{}}`), r1, "must not be the document root"},
		{"merge root with array", reducer(`{"op":"merge","path":"","value":[1]}`), r1, "needs an object value"},
		{"unknown key", reducer(`{"op":"set","path":"/b","valeu":1}`), r1, `unknown key "valeu"`},
		{"op not a string", reducer(`{"op":1,"path":"/b"}`), r1, `"op" must be a string`},
		{"rule not an object", reducer(`"set"`), r1, "must be an object"},
		{"rules not a list", `{"reducers":{"Wallet":{"MoneyDeposited":{"op":"set"}}}}`, `reducers["Wallet"]["MoneyDeposited"]`, "must be a list of rules"},
		{"stream not an object", `{"reducers":{"Wallet":[]}}`, `reducers["Wallet"]`, "must be an object"},
		{"reducers not an object", `{"reducers":[]}`, `reducers`, "must be an object"},
		{"missing from_version", upcaster(`{"ops":[]}`), u0, "missing from_version"},
		{"from_version zero", upcaster(`{"from_version":0,"ops":[]}`), u0, "at least 1"},
		{"from_version not int", upcaster(`{"from_version":1.5,"ops":[]}`), u0, `"from_version" must be an integer`},
		{"duplicate from_version", upcaster(`{"from_version":1,"ops":[]},{"from_version":1,"ops":[]}`), `upcasters["OrderPlaced"][1]`, "already upcast by"},
		{"upcaster unknown key", upcaster(`{"from_version":1,"steps":[]}`), u0, `unknown key "steps"`},
		{"upcast unknown op", upcaster(`{"from_version":1,"ops":[{"op":"inc","path":"/a"}]}`), u0 + ".ops[0]", `unknown op "inc"`},
		{"rename without from", upcaster(`{"from_version":1,"ops":[{"op":"rename","path":"/a"}]}`), u0 + ".ops[0]", "missing from"},
		{"rename same path", upcaster(`{"from_version":1,"ops":[{"op":"rename","from":"/a","path":"/a"}]}`), u0 + ".ops[0]", "the same"},
		{"default without value", upcaster(`{"from_version":1,"ops":[{"op":"default","path":"/a"}]}`), u0 + ".ops[0]", "missing value"},
		{"drop with value", upcaster(`{"from_version":1,"ops":[{"op":"drop","path":"/a","value":1}]}`), u0 + ".ops[0]", "takes neither"},
		{"upcast op missing path", upcaster(`{"from_version":1,"ops":[{"op":"drop"}]}`), u0 + ".ops[0]", "missing path"},
		{"upcast op root path", upcaster(`{"from_version":1,"ops":[{"op":"drop","path":""}]}`), u0 + ".ops[0]", "must not be the payload root"},
		{"syntax error", "{\n  \"reducers\": {,}\n}", "", "invalid JSON at line 2, column"},
		{"empty file", "  \n", "", "empty file"},
		{"top-level array", `[]`, "", "must be a JSON object"},
		{"top-level null", `null`, "", "must be a JSON object"},
		{"trailing data", `{} {}`, "", "unexpected data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig([]byte(tt.src), "/etc/auditd/reducers.json")
			if err == nil {
				t.Fatalf("ParseConfig accepted %s: %+v", tt.src, cfg)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("errors.Is(err, ErrInvalidConfig) = false for %v", err)
			}
			msg := err.Error()
			for _, want := range []string{"/etc/auditd/reducers.json", tt.where, tt.msg} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Rule != tt.where {
				t.Errorf("ConfigError.Rule = %q, want %q", ce.Rule, tt.where)
			}
		})
	}
}

func TestParseConfigReportsEveryError(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig([]byte(`{"reducers":{"Wallet":{
		"A":[{"op":"inc","path":"/x","value":"s"}],
		"B":[{"op":"set","path":"/ok","value":1},{"op":"nope","path":"/y"}]}}}`), "r.json")
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	for _, want := range []string{`reducers["Wallet"]["A"][0]`, `reducers["Wallet"]["B"][1]`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.StreamType != "Wallet" || ce.EventType != "A" || ce.Index != 0 {
		t.Errorf("first ConfigError = %+v", ce)
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := mustConfig(t, exampleConfig).Fingerprint()
	if len(base) != 64 {
		t.Fatalf("fingerprint %q is not a sha256 hex", base)
	}
	same := []string{
		// Keys in another order, other whitespace, other drift settings.
		`{"drift": {"other": true},
		  "upcasters": {"OrderPlaced": [{"ops": [{"path": "/amount", "from": "/total", "op": "rename"},
		     {"value": "EUR", "op": "default", "path": "/currency"}, {"path": "/legacy", "op": "drop"}], "from_version": 1}]},
		  "reducers": {"Wallet": {"MoneyDeposited": [{"from": "/amount", "path": "/balance", "op": "inc"}]}, "Empty": {}}}`,
	}
	for _, s := range same {
		if got := mustConfig(t, s).Fingerprint(); got != base {
			t.Errorf("equivalent config has another fingerprint:\n%s", s)
		}
	}
	different := []string{
		strings.Replace(exampleConfig, `"op": "inc"`, `"op": "dec"`, 1),
		strings.Replace(exampleConfig, `"EUR"`, `"USD"`, 1),
		strings.Replace(exampleConfig, `"from_version": 1`, `"from_version": 2`, 1),
		strings.Replace(exampleConfig, `"MoneyDeposited": [`, `"MoneyDeposited": [{"op":"set","path":"/seen","value":true},`, 1),
		// An empty rule list ("ignore this event") differs from no entry ("merge it").
		strings.Replace(exampleConfig, `"Wallet": {`, `"Wallet": {"Noise": [],`, 1),
	}
	seen := map[string]int{base: -1}
	for i, s := range different {
		got := mustConfig(t, s).Fingerprint()
		if j, dup := seen[got]; dup {
			t.Errorf("config %d has the fingerprint of config %d", i, j)
		}
		seen[got] = i
	}
	if DefaultConfig().Fingerprint() != mustConfig(t, `{}`).Fingerprint() {
		t.Error("DefaultConfig and {} should have the same fingerprint")
	}
	if mustConfig(t, `{"reducers":{"W":{"E":[{"op":"merge"}]}}}`).Fingerprint() !=
		mustConfig(t, `{"reducers":{"W":{"E":[{"op":"merge","path":"","from":""}]}}}`).Fingerprint() {
		t.Error("merge defaults should normalise to explicit root path and whole-payload from")
	}
	if mustConfig(t, exampleConfig).Fingerprint() != base {
		t.Error("fingerprint not stable across parses")
	}
}

func TestConfigDisplaySection(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`{"display": {"FeeCharged": ["/amount", "/reason"]}}`), "c.json")
	if err != nil {
		t.Fatal(err)
	}
	if paths, ok := cfg.Display("FeeCharged"); !ok || strings.Join(paths, ",") != "/amount,/reason" {
		t.Errorf("display = %v %v", paths, ok)
	}
	if _, ok := cfg.Display("Other"); ok {
		t.Error("an event type without an entry has one")
	}
	for _, bad := range []string{`{"display": []}`, `{"display": {"X": "/a"}}`, `{"display": {"X": ["amount"]}}`, `{"display": {"X": [""]}}`,
		`{"display": {"X": ["/1","/2","/3","/4","/5","/6","/7","/8","/9"]}}`} {
		if _, err := ParseConfig([]byte(bad), "c.json"); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "display") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
