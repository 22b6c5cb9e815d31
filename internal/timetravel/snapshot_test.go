package timetravel

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	f := NewFolder(mustConfig(t, `{"reducers":{"Wallet":{"Bad":[{"op":"inc","path":"/owner","value":1}]}}}`))
	st := NewState("wallet-1", "Wallet")
	oslo := time.FixedZone("Oslo", 3600)
	events := walletEvents(30)
	events = append(events, event(31, "Bad", `{}`, "x"), event(32, "Emptied", `{"owner":null,"tags":[],"meta":{}}`, "y"))
	events[5].RecordedAt = events[5].RecordedAt.In(oslo) // stored times come back in UTC
	f.Fold(st, events)
	if len(st.Errors) != 1 {
		t.Fatalf("want one fold error, got %s", errorMessages(st))
	}
	raw, err := st.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("round trip differs:\n%+v\n%+v", back, st)
	}
	raw2, err := back.MarshalSnapshot()
	if err != nil || string(raw2) != string(raw) {
		t.Errorf("re-encoding differs: %v", err)
	}
	if _, isNumber := back.Data["balance"].(json.Number); !isNumber {
		t.Errorf("balance decoded as %T", back.Data["balance"])
	}
	if back.Touched["/owner/name"].Version != 32 || back.Blame["/tags"].Version != 32 {
		t.Errorf("touched/blame lost: %+v %+v", back.Touched["/owner/name"], back.Blame["/tags"])
	}

	if _, err := UnmarshalSnapshot([]byte(`{"format":99}`)); !errors.Is(err, ErrSnapshotFormat) {
		t.Errorf("future format: err = %v", err)
	}
	if _, err := UnmarshalSnapshot([]byte(`{"format":`)); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Errorf("garbage: err = %v", err)
	}
	empty, err := UnmarshalSnapshot([]byte(`{"format":1}`))
	if err != nil || empty.Data == nil || empty.Blame == nil || empty.Touched == nil {
		t.Errorf("empty snapshot: %+v, %v", empty, err)
	}
}
