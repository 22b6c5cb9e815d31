package eventstore_test

import (
	"reflect"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// FuzzParseMapping feeds the configuration file's source and checkpoints
// sections, outside input read at start-up, to ParseMapping: it never
// panics, a mapping it accepts names a table and every column auditd
// cannot do without, and the same bytes always give the same answer.
func FuzzParseMapping(f *testing.F) {
	f.Add([]byte(pgtest.Seed000Mapping))
	f.Add([]byte(pgtest.Seed002Mapping))
	f.Add([]byte(`{"reducers": {}}`))
	f.Add([]byte(`{"source": {"table": "public.events", "columns": {"position": "id"}}}`))
	f.Add([]byte(`{"source": {"table": "a\"; DROP TABLE x; --", "columns": {}}, "checkpoints": {"table": "cp"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := eventstore.ParseMapping(data)
		again, err2 := eventstore.ParseMapping(data)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(m, again) {
			t.Fatalf("ParseMapping(%q) is not deterministic: %v / %v", data, err, err2)
		}
		if err != nil || m == nil || m.Source == nil {
			return
		}
		if m.Source.Table == "" {
			t.Fatalf("ParseMapping(%q) accepted a source without a table", data)
		}
		for _, col := range []string{"stream_id", "event_type", "payload", "recorded_at"} {
			if m.Source.Columns[col] == "" {
				t.Fatalf("ParseMapping(%q) accepted a source without the %s column: %v", data, col, m.Source.Columns)
			}
		}
	})
}
