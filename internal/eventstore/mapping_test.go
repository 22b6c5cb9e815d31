package eventstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

// A configuration without a source is auditd's own schema: no mapping.
func TestParseMappingWithoutSource(t *testing.T) {
	t.Parallel()
	m, err := eventstore.ParseMapping([]byte(`{"reducers": {}}`))
	if err != nil || m != nil {
		t.Fatalf("ParseMapping = %v, %v; want nil, nil", m, err)
	}
}

func TestParseMappingSeed000(t *testing.T) {
	t.Parallel()
	m, err := eventstore.ParseMapping([]byte(pgtest.Seed000Mapping))
	if err != nil {
		t.Fatal(err)
	}
	src := m.Source
	if src.Table != "app.events" || src.Columns["stream_id"] != "aggregate_id" || src.StreamType != "Wallet" || src.TimeZone != "UTC" {
		t.Errorf("source = %+v", src)
	}
	if _, ok := src.Columns["metadata"]; ok {
		t.Errorf("a null column is mapped: %v", src.Columns)
	}
	split, err := eventstore.ParseMapping([]byte(strings.Replace(pgtest.Seed000Mapping, `"stream_type": "Wallet"`, `"stream_type": {"split": "-"}`, 1)))
	if err != nil || split.Source.SplitStreamType != "-" {
		t.Errorf("split stream type: %+v, %v", split, err)
	}
}

// Every bad value is an error naming the key at fault.
func TestParseMappingErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ old, new, key string }{
		{`"time_zone": "UTC"`, `"time_zone": "UTC", "tabel": "x"`, "source.tabel"},
		{`"table": "app.events"`, `"table": ""`, "source.table"},
		{`"stream_id": "aggregate_id"`, `"stream_id": 7`, "source.columns.stream_id"},
		{`"stream_id": "aggregate_id"`, `"stream_id": null`, "source.columns.stream_id"},
		{`"actor": null`, `"actor": null, "author": "x"`, "source.columns.author"},
		{`"stream_type": "Wallet"`, `"stream_type": {"cut": "-"}`, "source.stream_type"},
		{`"stream_type": "Wallet"`, `"stream_type": null`, "source.stream_type"},
		{`"time_zone": "UTC"`, `"time_zone": "UTC", "metadata_keys": {"user": "userId"}`, "source.metadata_keys.user"},
		{`"time_zone": "UTC"`, `"time_zone": "UTC", "where": {"is_archived": [1]}`, "source.where.is_archived"},
		{`"time_zone": "UTC"`, `"time_zone": "UTC", "exclude_streams": {"start": ["$"]}`, "source.exclude_streams"},
		{`}}`, `}, "checkpoints": {"table": "t", "columns": {"name": "n"}}}`, "checkpoints.columns.position"},
	}
	for _, c := range cases {
		data := strings.Replace(pgtest.Seed000Mapping, c.old, c.new, 1)
		_, err := eventstore.ParseMapping([]byte(data))
		var me *eventstore.MappingError
		if !errors.As(err, &me) || me.Key != c.key {
			t.Errorf("%s: error %v, want one naming %s", c.new, err, c.key)
		}
	}
}

// Validate checks names against the catalog: a wrong table or column is an
// error naming the key, what there is, and the nearest match.
func TestMappingValidateAgainstCatalog(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(t.Context(), pgtest.Seed000SQL); err != nil {
		t.Fatal(err)
	}
	parse := func(old, new string) *eventstore.Mapping {
		m, err := eventstore.ParseMapping([]byte(strings.Replace(pgtest.Seed000Mapping, old, new, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cat, err := parse("", "").Validate(t.Context(), db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if cat.Table != "app.events" || cat.Types["stream_id"] != "uuid" || cat.Types["event_type"] != "character varying(50)" {
		t.Errorf("catalog = %+v", cat)
	}
	cases := []struct {
		old, new string
		want     []string
	}{
		{`"table": "app.events"`, `"table": "app.evnets"`, []string{"source.table", `"app.evnets"`, "app.events", `nearest: "app.events"`}},
		{`"stream_id": "aggregate_id"`, `"stream_id": "aggregateid"`, []string{"source.columns.stream_id", "aggregateid", "id, aggregate_id, event_type, payload, version, created_at", `nearest: "aggregate_id"`}},
		{`"time_zone": "UTC"`, `"time_zone": "Mars/Olympus"`, []string{"source.time_zone", "Mars/Olympus"}},
	}
	for _, c := range cases {
		_, err := parse(c.old, c.new).Validate(t.Context(), db.Pool)
		if err == nil {
			t.Errorf("%s: no error", c.new)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.new, err, w)
			}
		}
	}
}
