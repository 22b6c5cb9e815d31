package timetravel

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{
		"MoneyDeposited":[{"op":"inc","path":"/balance","from":"/amount"}],
		"EmailRemoved":[{"op":"unset","path":"/owner/email"}]}}}`))
	events := []eventstore.Event{
		event(1, "WalletOpened", `{"balance":0,"owner":{"name":"Ann","email":"ann@x"},"currency":"EUR"}`, "alice"),
		event(2, "MoneyDeposited", `{"amount":10}`, "bob"),
		event(3, "EmailRemoved", `{}`, "carol"),
		event(4, "Flagged", `{"flags":{"fraud":true,"review":"pending"}}`, "dave"),
		event(5, "MoneyDeposited", `{"amount":2.5}`, "erin"),
		event(6, "Noted", `{"note":"n"}`, "frank"),
	}
	states := make([]*State, len(events)+1)
	states[0] = NewState("wallet-1", "Wallet")
	for i := range events {
		states[i+1] = states[i].Clone()
		f.Apply(states[i+1], &events[i])
	}
	type row struct {
		path, op string
		old, new any
		version  int
		actor    string
	}
	rows := func(cs []Change) []row {
		out := make([]row, 0, len(cs))
		for _, c := range cs {
			out = append(out, row{c.Path, c.Op, c.Old, c.New, c.Version, c.Actor})
		}
		return out
	}
	got := rows(Diff(states[1], states[5]))
	want := []row{
		{"/balance", ChangeReplace, json.Number("0"), json.Number("12.5"), 5, "erin"}, // last deposit in range, not bob's
		{"/flags/fraud", ChangeAdd, nil, true, 4, "dave"},
		{"/flags/review", ChangeAdd, nil, "pending", 4, "dave"},
		{"/owner/email", ChangeRemove, "ann@x", nil, 3, "carol"}, // the event that removed it
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff(v1, v5) =\n%v\nwant\n%v", got, want)
	}
	// The events before the range do not count.
	got = rows(Diff(states[4], states[6]))
	want = []row{
		{"/balance", ChangeReplace, json.Number("10"), json.Number("12.5"), 5, "erin"},
		{"/note", ChangeAdd, nil, "n", 6, "frank"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff(v4, v6) =\n%v\nwant\n%v", got, want)
	}
	// Backwards: what undoing v3..v4 takes, blamed on the events undone.
	got = rows(Diff(states[4], states[2]))
	want = []row{
		{"/flags/fraud", ChangeRemove, true, nil, 4, "dave"},
		{"/flags/review", ChangeRemove, "pending", nil, 4, "dave"},
		{"/owner/email", ChangeAdd, nil, "ann@x", 3, "carol"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff(v4, v2) =\n%v\nwant\n%v", got, want)
	}
	if d := Diff(states[3], states[3]); len(d) != 0 {
		t.Errorf("Diff of a state with itself = %v", d)
	}
	all := Diff(nil, states[1])
	if len(all) != 4 || all[0].Path != "/balance" || all[0].Op != ChangeAdd || all[0].Actor != "alice" {
		t.Errorf("Diff(nil, v1) = %+v", all)
	}
}

func TestDiffShapes(t *testing.T) {
	t.Parallel()
	st := func(data string) *State { return &State{Data: mustJSON(t, data).(map[string]any)} }
	tests := []struct {
		name, from, to string
		want           []string // path op
	}{
		{"type change is one replace", `{"a":{"b":1}}`, `{"a":"flat"}`, []string{"/a replace"}},
		{"empty object to filled", `{"a":{}}`, `{"a":{"b":1}}`, []string{"/a/b add"}},
		{"array grows and shrinks", `{"l":[1,2,3]}`, `{"l":[1,9]}`, []string{"/l/1 replace", "/l/2 remove"}},
		{"numeric order", `{"l":[]}`, `{"l":[0,1,2,3,4,5,6,7,8,9,10,11]}`, []string{
			"/l/0 add", "/l/1 add", "/l/2 add", "/l/3 add", "/l/4 add", "/l/5 add", "/l/6 add", "/l/7 add", "/l/8 add", "/l/9 add", "/l/10 add", "/l/11 add"}},
		{"equal numbers are equal", `{"n":1.0}`, `{"n":1}`, nil},
		{"null is a value", `{"n":null}`, `{}`, []string{"/n remove"}},
		{"escaped keys", `{}`, `{"a/b":{"~":1}}`, []string{"/a~1b/~0 add"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, c := range Diff(st(tt.from), st(tt.to)) {
				got = append(got, c.Path+" "+c.Op)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
