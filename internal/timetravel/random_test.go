package timetravel

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
)

// chaosConfig exercises every op with pointers into payloads whose shape is
// random, so most rules meet values of the wrong type.
const chaosConfig = `{"reducers":{"Wallet":{
	"A":[{"op":"set","path":"/a/b","from":"/x"},{"op":"inc","path":"/n","from":"/y"},{"op":"append","path":"/l","from":"/x"}],
	"B":[{"op":"remove","path":"/l","from":"/x"},{"op":"unset","path":"/l/0"},{"op":"dec","path":"/a/b","from":"/y"}],
	"C":[{"op":"merge","path":"/m","from":"/x"},{"op":"merge","from":"/z"},{"op":"set","path":"/l/-","from":"/y"}],
	"D":[{"op":"unset","path":"/a"},{"op":"merge","path":"/a/b/c"},{"op":"set","path":"/x~1y/ü","from":""}],
	"E":[{"op":"inc","path":"/l/1","value":0.1},{"op":"remove","path":"/m/k","value":null},{"op":"append","path":"/m/k","from":"/y"}]}},
	"upcasters":{"A":[{"from_version":1,"ops":[{"op":"rename","from":"/x","path":"/x/x"},{"op":"default","path":"/y","value":1}]}]}}`

var chaosKeys = []string{"x", "y", "z", "a", "b", "l", "m", "k", "n", "ü", "a/b", "~", ""}

func randomValue(r *rand.Rand, depth int) any {
	n := r.IntN(10)
	if depth > 4 {
		n = r.IntN(6)
	}
	switch n {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(fmt.Sprint(r.IntN(2000) - 1000))
	case 3:
		return json.Number([]string{"0.1", "-2.50", "1e3", "1E-2", "123456789012345678901234567890.5", "-0"}[r.IntN(6)])
	case 4:
		return []string{"", "s", "12.50", "ключ", "🚀", "1e5", "\u0000"}[r.IntN(7)]
	case 5, 6:
		m := map[string]any{}
		for range r.IntN(4) {
			m[chaosKeys[r.IntN(len(chaosKeys))]] = randomValue(r, depth+1)
		}
		return m
	default:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return l
	}
}

func randomPayload(r *rand.Rand) []byte {
	switch r.IntN(12) {
	case 0:
		return []byte(`{"broken":`)
	case 1:
		return []byte(`[1,2]`)
	case 2:
		return nil
	}
	m := map[string]any{}
	for range r.IntN(5) {
		m[chaosKeys[r.IntN(len(chaosKeys))]] = randomValue(r, 0)
	}
	b, _ := json.Marshal(m)
	return b
}

func foldNoPanic(t testing.TB, f *Folder, st *State, ev *eventstore.Event, step bool) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic on %s %s: %v", ev.EventType, ev.Payload, p)
		}
	}()
	if step {
		f.Step(st, ev)
		return
	}
	f.Apply(st, ev)
}

// TestApplyNeverPanicsOnRandomPayloads folds long random histories and
// checks after every event that blame and data are still in step.
func TestApplyNeverPanicsOnRandomPayloads(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, chaosConfig))
	types := []string{"A", "B", "C", "D", "E", "Unruled"}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 42))
		st := NewState("wallet-1", "Wallet")
		for v := 1; v <= 300; v++ {
			ev := event(v, types[r.IntN(len(types))], "", "fuzz")
			ev.Payload = randomPayload(r)
			ev.SchemaVersion = r.IntN(3)
			before := st.Clone()
			foldNoPanic(t, f, st, &ev, v%2 == 0)
			checkBlame(t, st)
			if st.Version != v {
				t.Fatalf("seed %d: version %d after event %d", seed, st.Version, v)
			}
			// A step's changes are exactly the diff of the states around it.
			if v%2 == 0 {
				after := st.Clone()
				replay := before.Clone()
				changes := f.Step(replay, &ev)
				if d := Diff(before, after); len(d) != len(changes) {
					t.Fatalf("seed %d v%d: Step reported %d changes, Diff %d", seed, v, len(changes), len(d))
				}
			}
		}
		raw, err := st.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalSnapshot(raw); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzApply: go test -fuzz=FuzzApply ./internal/timetravel/ explores further;
// plain go test runs the seeds.
func FuzzApply(f *testing.F) {
	for _, s := range []string{`{}`, `{"x":{"x":1},"y":"2.5","z":{"a":null}}`, `{"x":[1,{"y":2}],"y":1e400}`, `[`, `"s"`, `{"z":{"m":{"k":[null]}}}`} {
		f.Add("A", s)
		f.Add("C", s)
		f.Add("Unruled", s)
	}
	folder := NewFolder(mustConfig(f, chaosConfig))
	f.Fuzz(func(t *testing.T, eventType, payload string) {
		st := NewState("wallet-1", "Wallet")
		for v, typ := range []string{"Unruled", eventType, "D", eventType, "E", "B"} {
			ev := event(v+1, typ, payload, "fuzz")
			foldNoPanic(t, folder, st, &ev, v%2 == 1)
			checkBlame(t, st)
		}
		if payload != "" && !json.Valid([]byte(payload)) {
			for _, e := range st.Errors {
				if e.Stage != StagePayload {
					t.Fatalf("invalid payload reached the reducers: %+v", e)
				}
			}
			if len(st.Errors) != 6 || len(st.Data) != 0 {
				t.Errorf("invalid payload: %d errors, data %v", len(st.Errors), st.Data)
			}
		}
	})
}
