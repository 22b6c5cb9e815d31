package pii

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseAndMask: the pii section is hand-written in the configuration
// file, and payloads are anyone's. Any section parses or fails with
// ErrInvalidPolicy; a policy that parses masks any payload without
// panicking, its output is JSON, and masking it again changes nothing.
func FuzzParseAndMask(f *testing.F) {
	for _, s := range [][2]string{
		{`{"Wallet": {"state": ["/owner"], "events": {"E": ["/owner", "/cards/*/n"]}}}`, `{"owner": "ann", "cards": [{"n": 1}, 2]}`},
		{`{"Wallet": {"metadata": ["/ip"], "events": {"E": {"payload": ["/a~1b"], "metadata": ["/x/0"]}}}}`, `{"a/b": [1, {"c": null}]}`},
		{`{"Wallet": {"state": [""]}}`, `[]`},
		{`{"": {}}`, `"x"`},
		{`{"Wallet": {"events": {"E": ["/*"]}}}`, `{"a": {"b": 1}}`},
		{`[]`, `not json`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, section, payload string) {
		p, err := ParseSection(json.RawMessage(section), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error without ErrInvalidPolicy: %v", err)
			}
			return
		}
		for streamType, tp := range p.types {
			for eventType := range tp.payload {
				out, md, _ := p.MaskEvent(streamType, eventType, json.RawMessage(payload), json.RawMessage(payload))
				if json.Valid([]byte(payload)) && !json.Valid(out) || !json.Valid([]byte(payload)) && len(out) > 0 && string(out) != payload && !json.Valid(out) {
					t.Fatalf("masked payload is not JSON: %q", out)
				}
				again, _, m := p.MaskEvent(streamType, eventType, out, md)
				if len(out) > 0 && json.Valid(out) && (m.Payload != nil || string(again) != string(out)) {
					t.Fatalf("masking %q again masked %v: %q", out, m.Payload, again)
				}
			}
		}
	})
}
