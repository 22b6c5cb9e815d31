package eventstore

import (
	"encoding/json"
	"fmt"
)

// flagRow notes what is wrong with one row of an application's table and
// makes it showable: a payload or metadata that is not JSON becomes the
// JSON string of its text (so that the event still encodes, and a fold
// says the payload is no object), NULLs read as empty values.
func (e *Event) flagRow() {
	if e.StreamID == "" {
		e.Problems = append(e.Problems, "no stream id (NULL)")
	}
	if e.EventType == "" {
		e.Problems = append(e.Problems, "no event type (NULL)")
	}
	if e.RecordedAt.Year() == 1 {
		e.Problems = append(e.Problems, "no recorded time (NULL)")
	}
	if e.Version <= 0 {
		e.Problems = append(e.Problems, "no version (NULL or not positive)")
	}
	switch {
	case !json.Valid(e.Payload):
		e.Problems = append(e.Problems, "the payload is not JSON: shown as text")
		e.Payload, _ = json.Marshal(string(e.Payload))
	case string(e.Payload) == "null":
		e.Problems = append(e.Problems, "no payload (NULL)")
	case !isJSONObject(e.Payload):
		e.Problems = append(e.Problems, "the payload is not a JSON object")
	}
	if !json.Valid(e.Metadata) {
		e.Problems = append(e.Problems, "the metadata is not JSON: shown as text")
		e.Metadata, _ = json.Marshal(string(e.Metadata))
	}
}

// flagSequence notes, on a run of one stream's events in version order
// (descending when desc), versions seen twice or skipped and times going
// backwards: an application's table has no constraint that prevents them.
func flagSequence(events []Event, desc bool) {
	for i := 1; i < len(events); i++ {
		prev, cur := &events[i-1], &events[i]
		if desc {
			prev, cur = cur, prev
		}
		switch {
		case cur.Version == prev.Version:
			cur.Problems = append(cur.Problems, fmt.Sprintf("version %d appears twice in the stream", cur.Version))
		case cur.Version > prev.Version+1:
			cur.Problems = append(cur.Problems, fmt.Sprintf("versions %d to %d are missing", prev.Version+1, cur.Version-1))
		}
		if cur.RecordedAt.Before(prev.RecordedAt) {
			cur.Problems = append(cur.Problems, "recorded before the previous version: time goes backwards")
		}
	}
}
