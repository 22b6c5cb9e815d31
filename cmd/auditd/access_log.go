package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// requireCase reports whether recorded views need a case reference: the
// --require-case flag, or "access_log": {"require_case": true} in the
// configuration file. An access_log section with other keys is an error:
// a misspelt require_case would silently leave views without a case.
func requireCase(cfg *config) (bool, error) {
	if cfg.RequireCase {
		return true, nil
	}
	data, source, err := configFile(cfg)
	if err != nil || data == nil {
		return false, err
	}
	var top struct {
		AccessLog json.RawMessage `json:"access_log"`
	}
	if json.Unmarshal(data, &top) != nil || top.AccessLog == nil {
		return false, nil // not this section's to report: the reducers' parser says what is wrong
	}
	var section struct {
		RequireCase bool `json:"require_case"`
	}
	dec := json.NewDecoder(bytes.NewReader(top.AccessLog))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&section); err != nil {
		return false, fmt.Errorf("invalid \"access_log\" in %s: want {\"require_case\": true or false}: %w", source, err)
	}
	return section.RequireCase, nil
}
