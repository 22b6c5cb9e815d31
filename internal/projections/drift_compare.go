package projections

import "github.com/auditd/auditd/internal/timetravel"

// compare lists the mapped fields whose read-model column differs from the
// folded state.
func (m *DriftMapping) compare(state any, row map[string]any) []FieldDiff {
	diffs := []FieldDiff{}
	for _, ptr := range m.pointers {
		col := m.Fields[ptr]
		want, werr := m.parsed[ptr].Get(state)
		got := row[col]
		if werr != nil {
			// Absent in the state: equal only to NULL in the row.
			if got != nil {
				diffs = append(diffs, FieldDiff{Pointer: ptr, Column: col, Expected: "missing", Actual: timetravel.JSONText(got)})
			}
			continue
		}
		if !sameValue(want, got) {
			diffs = append(diffs, FieldDiff{Pointer: ptr, Column: col, Expected: timetravel.JSONText(want), Actual: timetravel.JSONText(got)})
		}
	}
	return diffs
}

// sameValue compares a folded value with a column value: JSON equality
// (numbers by value, so 10.5 equals 10.50), where a number also equals a
// string holding the same decimal number, as a numeric column read as text
// is.
func sameValue(a, b any) bool { return timetravel.JSONEqualNumericText(a, b) }
