package timetravel

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// event builds an event of the test wallet stream.
func event(version int, eventType, payload, actor string) eventstore.Event {
	meta := "{}"
	if actor != "" {
		meta = fmt.Sprintf(`{"actor":%q,"source":"test"}`, actor)
	}
	return eventstore.Event{
		Position:      int64(1000 + version),
		EventID:       fmt.Sprintf("00000000-0000-0000-0000-%012d", version),
		StreamID:      "wallet-1",
		StreamType:    "Wallet",
		Version:       version,
		EventType:     eventType,
		SchemaVersion: 1,
		Payload:       json.RawMessage(payload),
		Metadata:      json.RawMessage(meta),
		RecordedAt:    t0.Add(time.Duration(version) * time.Minute),
	}
}

func mustConfig(t testing.TB, src string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(src), "test.json")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// canon re-encodes a value with sorted keys, for comparisons.
func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func canonJSON(t testing.TB, s string) string {
	t.Helper()
	return canon(t, mustJSON(t, s))
}

// checkBlame asserts the blame bookkeeping invariants: exactly the leaves of
// Data are blamed, and every blamed pointer is touched no earlier.
func checkBlame(t testing.TB, st *State) {
	t.Helper()
	leaves := map[string]bool{}
	for k, v := range st.Data {
		walkLeaves(childPointer("", k), v, func(p string, _ any) { leaves[p] = true })
	}
	var missing, extra []string
	for p := range leaves {
		if _, ok := st.Blame[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p, b := range st.Blame {
		if !leaves[p] {
			extra = append(extra, p)
		}
		if tb, ok := st.Touched[p]; !ok || tb.Version < b.Version {
			t.Errorf("blamed %s (v%d) not touched at or after it: %+v", p, b.Version, tb)
		}
		if b.Version > st.Version {
			t.Errorf("blame %s at v%d is after state version %d", p, b.Version, st.Version)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("blame out of step with data %s:\n leaves without blame: %q\n blame without leaf: %q",
			truncate(canon(t, st.Data), 300), missing, extra)
	}
}

func errorMessages(st *State) string {
	var b strings.Builder
	for _, e := range st.Errors {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}
