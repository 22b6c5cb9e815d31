package timetravel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// snapshotFormat versions the snapshot encoding itself (the fold semantics
// are versioned by the config fingerprint).
const snapshotFormat = 1

// ErrSnapshotFormat is returned for snapshots written by an incompatible
// version: callers drop them and fold from the start.
var ErrSnapshotFormat = errors.New("timetravel: unsupported snapshot format")

type snapshotJSON struct {
	Format        int              `json:"format"`
	StreamID      string           `json:"stream_id"`
	StreamType    string           `json:"stream_type"`
	Version       int              `json:"version"`
	At            time.Time        `json:"at"`
	Data          map[string]any   `json:"data"`
	Blame         map[string]Blame `json:"blame"`
	Touched       map[string]Blame `json:"touched"`
	Errors        []FoldError      `json:"errors,omitempty"`
	DroppedErrors int              `json:"dropped_errors,omitempty"`
}

// MarshalSnapshot encodes the whole state (data, blame, touched, version,
// time and fold errors) as JSON, suitable for a jsonb column. Numbers keep
// their exact text.
func (st *State) MarshalSnapshot() ([]byte, error) {
	if st == nil {
		return nil, errors.New("timetravel: no state to snapshot")
	}
	s := snapshotJSON{
		Format: snapshotFormat, StreamID: st.StreamID, StreamType: st.StreamType,
		Version: st.Version, At: st.At, Data: st.Data, Blame: st.Blame, Touched: st.Touched,
		Errors: st.Errors, DroppedErrors: st.DroppedErrors,
	}
	if s.Data == nil {
		s.Data = map[string]any{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("timetravel: unable to encode snapshot: %w", err)
	}
	return b, nil
}

// UnmarshalSnapshot decodes a MarshalSnapshot result.
func UnmarshalSnapshot(data []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var s snapshotJSON
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("timetravel: unable to decode snapshot: %w", err)
	}
	if s.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: %d", ErrSnapshotFormat, s.Format)
	}
	st := &State{
		StreamID: s.StreamID, StreamType: s.StreamType, Version: s.Version, At: s.At,
		Data: s.Data, Blame: s.Blame, Touched: s.Touched, Errors: s.Errors, DroppedErrors: s.DroppedErrors,
	}
	st.init()
	return st, nil
}
