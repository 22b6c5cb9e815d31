package timetravel

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

// TestReducerOps folds a seed event (merged) then one event "E" with the
// rules under test, and checks the data, the error, and the blame.
func TestReducerOps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rules   string
		seed    string
		payload string
		want    string
		err     string // substring of the FoldError, "" for none
		errRule int
	}{
		{name: "set literal", rules: `[{"op":"set","path":"/status","value":"frozen"}]`,
			seed: `{"status":"open"}`, payload: `{}`, want: `{"status":"frozen"}`},
		{name: "set from payload", rules: `[{"op":"set","path":"/owner/email","from":"/email"}]`,
			seed: `{"owner":{"name":"Ann"}}`, payload: `{"email":"ann@example.com"}`, want: `{"owner":{"name":"Ann","email":"ann@example.com"}}`},
		{name: "set object from whole payload", rules: `[{"op":"set","path":"/last","from":""}]`,
			seed: `{}`, payload: `{"a":1}`, want: `{"last":{"a":1}}`},
		{name: "set creates parents", rules: `[{"op":"set","path":"/a/b/c","value":null}]`,
			seed: `{}`, payload: `{}`, want: `{"a":{"b":{"c":null}}}`},
		{name: "set appends with dash", rules: `[{"op":"set","path":"/l/-","from":"/x"}]`,
			seed: `{"l":[1]}`, payload: `{"x":{"y":2}}`, want: `{"l":[1,{"y":2}]}`},
		{name: "set through a string fails", rules: `[{"op":"set","path":"/s/x","value":1}]`,
			seed: `{"s":"str"}`, payload: `{}`, want: `{"s":"str"}`, err: "is a string"},
		{name: "set from missing payload field fails", rules: `[{"op":"set","path":"/e","from":"/email"}]`,
			seed: `{"e":"old"}`, payload: `{"name":"x"}`, want: `{"e":"old"}`, err: "payload has no /email"},
		{name: "unset member", rules: `[{"op":"unset","path":"/a/b"}]`,
			seed: `{"a":{"b":1,"c":2}}`, payload: `{}`, want: `{"a":{"c":2}}`},
		{name: "unset leaves empty object", rules: `[{"op":"unset","path":"/a/b"}]`,
			seed: `{"a":{"b":1}}`, payload: `{}`, want: `{"a":{}}`},
		{name: "unset missing is a no-op", rules: `[{"op":"unset","path":"/x/y"}]`,
			seed: `{"a":1}`, payload: `{}`, want: `{"a":1}`},
		{name: "unset array element shifts", rules: `[{"op":"unset","path":"/l/0"}]`,
			seed: `{"l":["a","b","c"]}`, payload: `{}`, want: `{"l":["b","c"]}`},
		{name: "inc integer", rules: `[{"op":"inc","path":"/n","from":"/by"}]`,
			seed: `{"n":41}`, payload: `{"by":1}`, want: `{"n":42}`},
		{name: "inc decimal", rules: `[{"op":"inc","path":"/balance","from":"/amount"}]`,
			seed: `{"balance":0.1}`, payload: `{"amount":0.2}`, want: `{"balance":0.3}`},
		{name: "inc keeps precision", rules: `[{"op":"inc","path":"/balance","from":"/amount"}]`,
			seed: `{"balance":10.50}`, payload: `{"amount":0.25}`, want: `{"balance":10.75}`},
		{name: "inc missing starts at zero", rules: `[{"op":"inc","path":"/stats/count","value":1}]`,
			seed: `{}`, payload: `{}`, want: `{"stats":{"count":1}}`},
		{name: "inc by a decimal string", rules: `[{"op":"inc","path":"/balance","from":"/amount"}]`,
			seed: `{"balance":100}`, payload: `{"amount":"12.50"}`, want: `{"balance":112.50}`},
		{name: "inc a decimal string stays a string", rules: `[{"op":"inc","path":"/balance","from":"/amount"}]`,
			seed: `{"balance":"100.00"}`, payload: `{"amount":"0.05"}`, want: `{"balance":"100.05"}`},
		{name: "inc on a string fails", rules: `[{"op":"inc","path":"/name","value":1}]`,
			seed: `{"name":"Ann"}`, payload: `{}`, want: `{"name":"Ann"}`, err: "cannot inc a string at /name"},
		{name: "inc by a non-number fails", rules: `[{"op":"inc","path":"/n","from":"/by"}]`,
			seed: `{"n":1}`, payload: `{"by":true}`, want: `{"n":1}`, err: "inc needs a number"},
		{name: "inc by a huge exponent fails", rules: `[{"op":"inc","path":"/n","from":"/by"}]`,
			seed: `{"n":1}`, payload: `{"by":1e999999}`, want: `{"n":1}`, err: "exponent"},
		{name: "dec", rules: `[{"op":"dec","path":"/balance","from":"/amount"}]`,
			seed: `{"balance":100}`, payload: `{"amount":0.01}`, want: `{"balance":99.99}`},
		{name: "append", rules: `[{"op":"append","path":"/tags","from":"/tag"}]`,
			seed: `{"tags":["a"]}`, payload: `{"tag":"b"}`, want: `{"tags":["a","b"]}`},
		{name: "append creates the array", rules: `[{"op":"append","path":"/tags","value":"a"}]`,
			seed: `{}`, payload: `{}`, want: `{"tags":["a"]}`},
		{name: "append an array is one element", rules: `[{"op":"append","path":"/l","from":"/x"}]`,
			seed: `{"l":[]}`, payload: `{"x":[1,2]}`, want: `{"l":[[1,2]]}`},
		{name: "append to an object fails", rules: `[{"op":"append","path":"/o","value":1}]`,
			seed: `{"o":{"k":1}}`, payload: `{}`, want: `{"o":{"k":1}}`, err: "cannot append to an object"},
		{name: "remove every equal element", rules: `[{"op":"remove","path":"/l","from":"/x"}]`,
			seed: `{"l":[1,2,1.0,3,1]}`, payload: `{"x":1}`, want: `{"l":[2,3]}`},
		{name: "remove objects by value", rules: `[{"op":"remove","path":"/l","value":{"id":"b"}}]`,
			seed: `{"l":[{"id":"a"},{"id":"b"}]}`, payload: `{}`, want: `{"l":[{"id":"a"}]}`},
		{name: "remove the last element leaves an empty array", rules: `[{"op":"remove","path":"/l","value":"x"}]`,
			seed: `{"l":["x"]}`, payload: `{}`, want: `{"l":[]}`},
		{name: "remove from missing is a no-op", rules: `[{"op":"remove","path":"/l","value":1}]`,
			seed: `{}`, payload: `{}`, want: `{}`},
		{name: "remove from a string fails", rules: `[{"op":"remove","path":"/l","value":1}]`,
			seed: `{"l":"1"}`, payload: `{}`, want: `{"l":"1"}`, err: "not an array"},
		{name: "merge at a path from the whole payload", rules: `[{"op":"merge","path":"/profile"}]`,
			seed: `{"profile":{"a":1,"b":2}}`, payload: `{"b":null,"c":3}`, want: `{"profile":{"a":1,"c":3}}`},
		{name: "merge at the root from a payload member", rules: `[{"op":"merge","from":"/changes"}]`,
			seed: `{"a":1,"b":2}`, payload: `{"changes":{"b":null,"c":{"d":4}}}`, want: `{"a":1,"c":{"d":4}}`},
		{name: "merge a literal", rules: `[{"op":"merge","path":"","value":{"status":"closed","reason":null}}]`,
			seed: `{"status":"open","reason":"x"}`, payload: `{}`, want: `{"status":"closed"}`},
		{name: "merge a scalar replaces", rules: `[{"op":"merge","path":"/p","from":"/v"}]`,
			seed: `{"p":{"a":1}}`, payload: `{"v":"flat"}`, want: `{"p":"flat"}`},
		{name: "merge a scalar at the root fails", rules: `[{"op":"merge","from":"/v"}]`,
			seed: `{"a":1}`, payload: `{"v":[1]}`, want: `{"a":1}`, err: "needs an object"},
		{name: "failed rule does not stop the next", errRule: 0,
			rules: `[{"op":"inc","path":"/name","value":1},{"op":"set","path":"/ok","value":true}]`,
			seed:  `{"name":"Ann"}`, payload: `{}`, want: `{"name":"Ann","ok":true}`, err: "cannot inc"},
		{name: "empty rule list ignores the event", rules: `[]`,
			seed: `{"a":1}`, payload: `{"a":2}`, want: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustConfig(t, `{"reducers":{"Wallet":{"E":`+tt.rules+`}}}`)
			f := NewFolder(cfg)
			st := NewState("wallet-1", "Wallet")
			seed := event(1, "Seed", tt.seed, "seeder")
			f.Apply(st, &seed)
			if len(st.Errors) > 0 {
				t.Fatalf("seed: %s", errorMessages(st))
			}
			ev := event(2, "E", tt.payload, "agent")
			f.Apply(st, &ev)
			if got := canon(t, st.Data); got != canonJSON(t, tt.want) {
				t.Errorf("data = %s, want %s", got, tt.want)
			}
			if st.Version != 2 || !st.At.Equal(ev.RecordedAt) {
				t.Errorf("version/at = %d/%v", st.Version, st.At)
			}
			checkBlame(t, st)
			if tt.err == "" {
				if len(st.Errors) > 0 {
					t.Fatalf("unexpected errors: %s", errorMessages(st))
				}
				return
			}
			if len(st.Errors) != 1 {
				t.Fatalf("errors = %s, want one containing %q", errorMessages(st), tt.err)
			}
			e := st.Errors[0]
			if !strings.Contains(e.Message, tt.err) || e.Version != 2 || e.EventType != "E" || e.Stage != StageRule || e.Rule != tt.errRule {
				t.Errorf("error = %+v, want %q at v2 rule %d", e, tt.err, tt.errRule)
			}
		})
	}
}

func TestNumbersKeepTheirText(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"}]}}}`))
	st := NewState("wallet-1", "Wallet")
	for i, p := range []string{`{"balance":0.00,"big":12345678901234567890.123456789}`, `{"amount":0.1}`, `{"amount":0.2}`} {
		typ := "MoneyDeposited"
		if i == 0 {
			typ = "WalletOpened"
		}
		ev := event(i+1, typ, p, "")
		f.Apply(st, &ev)
	}
	if st.Data["balance"] != json.Number("0.30") {
		t.Errorf("balance = %#v, want 0.30", st.Data["balance"])
	}
	if st.Data["big"] != json.Number("12345678901234567890.123456789") {
		t.Errorf("big = %#v", st.Data["big"])
	}
}

func TestUpcasters(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, `{"upcasters":{
		"OrderPlaced":[
			{"from_version":2,"ops":[{"op":"rename","from":"/amount","path":"/price/amount"},{"op":"rename","from":"/currency","path":"/price/currency"}]},
			{"from_version":1,"ops":[{"op":"rename","from":"/total","path":"/amount"},{"op":"default","path":"/currency","value":"EUR"},{"op":"drop","path":"/legacy"}]}],
		"Broken":[{"from_version":1,"ops":[{"op":"rename","from":"/a","path":"/s/x"}]}]}}`)
	f := NewFolder(cfg)
	tests := []struct {
		name, eventType string
		schema          int
		payload, want   string
		wantVersion     int
		err             string
	}{
		{"v1 chained to v3", "OrderPlaced", 1, `{"total":10.5,"legacy":true,"note":"é"}`, `{"price":{"amount":10.5,"currency":"EUR"},"note":"é"}`, 3, ""},
		{"schema 0 means 1", "OrderPlaced", 0, `{"total":1,"currency":"USD"}`, `{"price":{"amount":1,"currency":"USD"}}`, 3, ""},
		{"v2 only the second step", "OrderPlaced", 2, `{"amount":3,"currency":"GBP"}`, `{"price":{"amount":3,"currency":"GBP"}}`, 3, ""},
		{"current version unchanged", "OrderPlaced", 3, `{"price": {"amount": 3}}`, `{"price": {"amount": 3}}`, 3, ""},
		{"rename of an absent field is a no-op", "OrderPlaced", 1, `{"legacy":1}`, `{"price":{"currency":"EUR"}}`, 3, ""},
		{"no upcaster for the type", "Other", 1, `{"total":1}`, `{"total":1}`, 1, ""},
		{"rename into a string fails", "Broken", 1, `{"a":1,"s":"str"}`, ``, 1, "upcast Broken v1→v2 op 0 (rename /s/x)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := event(1, tt.eventType, tt.payload, "")
			ev.SchemaVersion = tt.schema
			got, sv, err := f.Upcast(&ev)
			if tt.err != "" {
				var ue *UpcastError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if canonJSON(t, string(got)) != canonJSON(t, tt.want) || sv != tt.wantVersion {
				t.Errorf("Upcast = %s v%d, want %s v%d", got, sv, tt.want, tt.wantVersion)
			}
			if tt.wantVersion == max(tt.schema, 1) && string(got) != tt.payload {
				t.Errorf("payload without upcasting should be returned as stored, got %s", got)
			}
		})
	}
}

func TestApplyUsesUpcastPayload(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, exampleConfig))
	st := &State{}
	ev := event(1, "OrderPlaced", `{"total":99.90,"legacy":"x"}`, "shop")
	f.Apply(st, &ev)
	if got := canon(t, st.Data); got != `{"amount":99.90,"currency":"EUR"}` {
		t.Errorf("data = %s", got)
	}
	checkBlame(t, st)

	broken := NewFolder(mustConfig(t, `{"upcasters":{"OrderPlaced":[{"from_version":1,"ops":[{"op":"rename","from":"/a","path":"/s/x"}]}]}}`))
	st2 := NewState("wallet-1", "Wallet")
	ok := event(1, "Seed", `{"s":"str"}`, "")
	bad := event(2, "OrderPlaced", `{"a":1,"s":"str"}`, "")
	broken.Apply(st2, &ok)
	broken.Apply(st2, &bad)
	if canon(t, st2.Data) != `{"s":"str"}` || st2.Version != 2 {
		t.Errorf("failed upcast changed the state or did not advance: %s v%d", canon(t, st2.Data), st2.Version)
	}
	if len(st2.Errors) != 1 || st2.Errors[0].Stage != StageUpcast || st2.Errors[0].Op != "rename" || st2.Errors[0].Rule != 0 {
		t.Errorf("errors = %+v", st2.Errors)
	}
}

func TestBlame(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{
		"EmailChanged":[{"op":"set","path":"/owner/email","from":"/email"}],
		"OwnerRemoved":[{"op":"unset","path":"/owner"}],
		"Tagged":[{"op":"append","path":"/tags","from":"/tag"}],
		"Untagged":[{"op":"remove","path":"/tags","from":"/tag"}]}}}`))
	st := NewState("wallet-1", "Wallet")
	steps := []eventstore.Event{
		event(1, "WalletOpened", `{"owner":{"name":"Ann","email":"ann@old"},"balance":0,"tags":[]}`, "alice"),
		event(2, "EmailChanged", `{"email":"ann@new"}`, "bob"),
		event(3, "OwnerPatched", `{"owner":{"name":null}}`, "carol"),
		event(4, "Tagged", `{"tag":"vip"}`, "dave"),
		event(5, "Tagged", `{"tag":"new"}`, "erin"),
		event(6, "Untagged", `{"tag":"vip"}`, "frank"),
		event(7, "OwnerRemoved", `{}`, "gina"),
	}
	type want struct {
		blame   map[string]string // pointer → actor
		touched map[string]string
	}
	wants := []want{
		{blame: map[string]string{"/owner/name": "alice", "/owner/email": "alice", "/balance": "alice", "/tags": "alice"}},
		{blame: map[string]string{"/owner/name": "alice", "/owner/email": "bob", "/balance": "alice", "/tags": "alice"}},
		{blame: map[string]string{"/owner/email": "bob", "/balance": "alice", "/tags": "alice"},
			touched: map[string]string{"/owner/name": "carol"}},
		{blame: map[string]string{"/owner/email": "bob", "/balance": "alice", "/tags/0": "dave"},
			touched: map[string]string{"/tags": "dave"}},
		{blame: map[string]string{"/owner/email": "bob", "/balance": "alice", "/tags/0": "dave", "/tags/1": "erin"}},
		// "new" moved from index 1 to 0 and keeps the blame of who added it.
		{blame: map[string]string{"/owner/email": "bob", "/balance": "alice", "/tags/0": "erin"},
			touched: map[string]string{"/tags/1": "frank", "/tags/0": "frank"}},
		{blame: map[string]string{"/balance": "alice", "/tags/0": "erin"},
			touched: map[string]string{"/owner/email": "gina", "/owner": "gina", "/owner/name": "carol"}},
	}
	for i := range steps {
		f.Apply(st, &steps[i])
		if len(st.Errors) > 0 {
			t.Fatalf("v%d: %s", i+1, errorMessages(st))
		}
		checkBlame(t, st)
		got := map[string]string{}
		for p, b := range st.Blame {
			got[p] = b.Actor
		}
		if !reflect.DeepEqual(got, wants[i].blame) {
			t.Errorf("after v%d blame = %v, want %v", i+1, got, wants[i].blame)
		}
		for p, actor := range wants[i].touched {
			if st.Touched[p].Actor != actor {
				t.Errorf("after v%d touched[%s] = %+v, want %s", i+1, p, st.Touched[p], actor)
			}
		}
	}
	b := st.Blame["/balance"]
	if b.Version != 1 || b.EventType != "WalletOpened" || b.Position != 1001 || !b.RecordedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("blame fields = %+v", b)
	}
}

func TestBlameEmptyContainers(t *testing.T) {
	t.Parallel()
	f := NewFolder(nil)
	st := &State{}
	for i, p := range []string{`{"a":{"b":1},"l":[]}`, `{"a":{"b":null}}`, `{"a":{"c":{}}}`, `{"l":[1]}`} {
		ev := event(i+1, "Patched", p, "")
		f.Apply(st, &ev)
		checkBlame(t, st)
	}
	if st.Blame["/a/c"].Version != 3 || st.Blame["/l/0"].Version != 4 {
		t.Errorf("blame = %+v", st.Blame)
	}
	if _, ok := st.Blame["/a"]; ok {
		t.Error("/a is not empty any more and must not be blamed as a leaf")
	}
}

func TestApplySkipsOldForeignAndReportsGaps(t *testing.T) {
	t.Parallel()
	f := NewFolder(nil)
	st := &State{}
	e1, e2 := event(1, "A", `{"a":1}`, ""), event(2, "A", `{"a":2}`, "")
	f.Apply(st, &e1)
	f.Apply(st, &e2)
	f.Apply(st, &e1) // a replayed overlap of a snapshot tail
	if st.Data["a"] != json.Number("2") || st.Version != 2 || len(st.Errors) != 0 {
		t.Fatalf("replay changed the state: %s v%d %s", canon(t, st.Data), st.Version, errorMessages(st))
	}
	other := event(3, "A", `{"a":3}`, "")
	other.StreamID = "wallet-2"
	f.Apply(st, &other)
	if st.Data["a"] != json.Number("2") || len(st.Errors) != 1 || st.Errors[0].Stage != StageEvent {
		t.Fatalf("foreign event: %s %s", canon(t, st.Data), errorMessages(st))
	}
	e5 := event(5, "A", `{"a":5}`, "")
	f.Apply(st, &e5)
	if st.Data["a"] != json.Number("5") || len(st.Errors) != 2 || !strings.Contains(st.Errors[1].Message, "versions 3 to 4 are missing") {
		t.Fatalf("gap: %s %s", canon(t, st.Data), errorMessages(st))
	}
	f.Apply(nil, &e5) // must not panic
	f.Apply(st, nil)  // must not panic
	if got := f.Step(st, &e5); got != nil {
		t.Errorf("Step of an already folded event = %v", got)
	}
}

func TestBadPayloads(t *testing.T) {
	t.Parallel()
	f := NewFolder(nil)
	st := &State{}
	for i, p := range []string{`{"ok":1}`, `not json`, `[1,2]`, `"s"`, `null`, `{"a":1} trailing`, ``} {
		ev := event(i+1, "X", p, "")
		f.Apply(st, &ev)
	}
	if canon(t, st.Data) != `{"ok":1}` || st.Version != 7 {
		t.Errorf("state = %s v%d", canon(t, st.Data), st.Version)
	}
	if len(st.Errors) != 5 {
		t.Errorf("errors = %s", errorMessages(st))
	}
	for _, e := range st.Errors {
		if e.Stage != StagePayload {
			t.Errorf("stage = %s", e.Stage)
		}
	}
}

func TestStep(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{
		"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"},{"op":"append","path":"/history","from":""}],
		"Renamed":[{"op":"merge","path":"","from":""}],
		"Cleared":[{"op":"remove","path":"/history","value":{"amount":5}}]}}}`))
	st := NewState("wallet-1", "Wallet")
	e1 := event(1, "WalletOpened", `{"balance":0,"owner":{"name":"Ann","city":"Oslo"}}`, "alice")
	changes := f.Step(st, &e1)
	if len(changes) != 3 || changes[0].Path != "/balance" || changes[0].Op != ChangeAdd || changes[2].Path != "/owner/name" {
		t.Fatalf("v1 changes = %+v", changes)
	}
	e2 := event(2, "MoneyDeposited", `{"amount":5}`, "bob")
	changes = f.Step(st, &e2)
	want := []Change{
		{Path: "/balance", Op: ChangeReplace, Old: json.Number("0"), New: json.Number("5")},
		{Path: "/history/0/amount", Op: ChangeAdd, New: json.Number("5")},
	}
	for i := range want {
		want[i].Version, want[i].EventType, want[i].Actor, want[i].Source, want[i].RecordedAt = 2, "MoneyDeposited", "bob", "test", e2.RecordedAt
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("v2 changes = %+v\nwant %+v", changes, want)
	}
	e3 := event(3, "Renamed", `{"owner":{"name":"Anna","city":null}}`, "carol")
	changes = f.Step(st, &e3)
	if len(changes) != 2 || changes[0].Path != "/owner/city" || changes[0].Op != ChangeRemove || changes[0].Old != "Oslo" ||
		changes[1].Path != "/owner/name" || changes[1].Op != ChangeReplace || changes[1].New != "Anna" {
		t.Errorf("v3 changes = %+v", changes)
	}
	e4 := event(4, "Cleared", `{}`, "dave")
	changes = f.Step(st, &e4)
	if len(changes) != 1 || changes[0].Path != "/history/0/amount" || changes[0].Op != ChangeRemove {
		t.Errorf("v4 changes = %+v", changes)
	}
	e5 := event(5, "Cleared", `{}`, "dave")
	if changes := f.Step(st, &e5); len(changes) != 0 {
		t.Errorf("a no-op event changed %+v", changes)
	}
	checkBlame(t, st)
}

// TestSnapshotThenTail is the service's read path: a snapshot state plus the
// events after it must equal a fold from the start.
func TestSnapshotThenTail(t *testing.T) {
	t.Parallel()
	f := NewFolder(walletConfig(t))
	events := walletEvents(500)
	full := f.Fold(nil, events)
	for _, cut := range []int{0, 1, 250, 499, 500} {
		head := f.Fold(NewState("wallet-1", "Wallet"), events[:cut])
		raw, err := head.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		st, err := UnmarshalSnapshot(raw)
		if err != nil {
			t.Fatal(err)
		}
		f.Fold(st, events[max(cut-3, 0):]) // an overlapping tail is harmless
		if !reflect.DeepEqual(st, full) {
			t.Fatalf("cut %d: snapshot+tail differs from a full fold:\n%s\n%s", cut, canon(t, st.Data), canon(t, full.Data))
		}
	}
	checkBlame(t, full)
	if len(full.Errors) != 0 {
		t.Errorf("errors: %s", errorMessages(full))
	}
}

func TestNonASCIIAndDeepNesting(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{"Renamed":[{"op":"set","path":"/имя/a~1b~0c","from":"/€"}]}}}`))
	st := NewState("wallet-1", "Wallet")
	e1 := event(1, "Opened", `{"ключ/€~x":"значение 🚀","日本":{"東京":1}}`, "Zoë")
	e2 := event(2, "Renamed", `{"€":"ü\u0000\ud83d\ude80"}`, "Zoë")
	f.Apply(st, &e1)
	f.Apply(st, &e2)
	checkBlame(t, st)
	for _, p := range []string{"/ключ~1€~0x", "/日本/東京", "/имя/a~1b~0c"} {
		b, ok := st.Blame[p]
		if !ok || b.Actor != "Zoë" {
			t.Errorf("blame[%q] = %+v, %v", p, b, ok)
		}
		ptr, err := ParsePointer(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ptr.Get(st.Data); err != nil {
			t.Errorf("blamed pointer %q does not resolve: %v", p, err)
		}
	}

	const depth = 3000
	deep := strings.Repeat(`{"n":`, depth) + `"bottom"` + strings.Repeat(`}`, depth)
	e3 := event(3, "Deep", deep, "")
	changes := f.Step(st, &e3)
	e4 := event(4, "Deep", `{"n":null}`, "")
	f.Apply(st, &e4)
	if len(st.Errors) != 0 || len(changes) != 1 || strings.Count(changes[0].Path, "/n") != depth {
		t.Fatalf("deep payload: %d changes, errors %s", len(changes), errorMessages(st))
	}
	if st.Touched[changes[0].Path].Version != 4 {
		t.Error("removing the deep subtree should touch its leaf")
	}
	checkBlame(t, st)
	tooDeep := strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000)
	e5 := event(5, "Deep", `{"x":`+tooDeep+`}`, "")
	f.Apply(st, &e5)
	if len(st.Errors) != 1 || st.Errors[0].Stage != StagePayload {
		t.Errorf("too deep payload: %s", errorMessages(st))
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	f := NewFolder(walletConfig(t))
	st := f.Fold(nil, walletEvents(20))
	c := st.Clone()
	if !reflect.DeepEqual(c, st) {
		t.Fatal("clone differs")
	}
	before := canon(t, st)
	ev := event(21, "MoneyDeposited", `{"amount":1,"note":"x"}`, "z")
	f.Apply(c, &ev)
	c.Data["owner"].(map[string]any)["name"] = "changed"
	if canon(t, st) != before {
		t.Error("changing the clone changed the original")
	}
}
