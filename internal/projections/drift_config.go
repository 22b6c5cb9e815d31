package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/timetravel"
)

// ErrInvalidDrift matches every drift configuration error.
var ErrInvalidDrift = errors.New("projections: invalid drift configuration")

// ErrNoDriftMapping is returned for a projection without a drift mapping.
var ErrNoDriftMapping = errors.New("projections: no drift mapping for this projection")

// DriftMapping declares how one projection's read model maps to folded
// state. It lives in the reducers file under the top-level "drift" key:
//
//	{"drift": {"wallet_balances": {"stream_type": "Wallet", "table": "wallet_balances",
//	  "key_column": "wallet_id", "fields": {"/balance": "balance", "/status": "status"}}}}
//
// Each row of Table is keyed by a stream id (KeyColumn); Fields maps a JSON
// pointer of the folded state to the column that should hold the same value.
type DriftMapping struct {
	Projection string            `json:"-"`
	StreamType string            `json:"stream_type"`
	Table      string            `json:"table"` // "table" or "schema.table"
	KeyColumn  string            `json:"key_column"`
	Fields     map[string]string `json:"fields"`

	pointers []string // sorted keys of Fields
	parsed   map[string]timetravel.Pointer
	relation string // quoted schema.table, set by Validate
}

// Pointers are the mapped state pointers in a stable order.
func (m *DriftMapping) Pointers() []string { return m.pointers }

// DriftConfig is the parsed "drift" section.
type DriftConfig struct {
	Mappings map[string]*DriftMapping
	cfg      *timetravel.Config
}

// Names lists the projections with a mapping, sorted.
func (d *DriftConfig) Names() []string {
	if d == nil {
		return nil
	}
	names := make([]string, 0, len(d.Mappings))
	for n := range d.Mappings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseDrift reads the "drift" section of a reducers config. A config
// without one yields an empty DriftConfig. Every problem is reported.
func ParseDrift(cfg *timetravel.Config) (*DriftConfig, error) {
	d := &DriftConfig{Mappings: map[string]*DriftMapping{}, cfg: cfg}
	raw, ok := cfg.Section("drift")
	if !ok {
		return d, nil
	}
	src := cfg.Source()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidDrift, src, fmt.Sprintf(format, args...))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, fail(`"drift" must be an object mapping projection names to {stream_type, table, key_column, fields}`)
	}
	var errs []error
	for name, body := range top {
		m := &DriftMapping{Projection: name}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(m); err != nil {
			errs = append(errs, fail("drift[%q]: %v", name, err))
			continue
		}
		var missing []string
		if strings.TrimSpace(m.StreamType) == "" {
			missing = append(missing, "stream_type")
		}
		if strings.TrimSpace(m.Table) == "" {
			missing = append(missing, "table")
		}
		if strings.TrimSpace(m.KeyColumn) == "" {
			missing = append(missing, "key_column")
		}
		if len(m.Fields) == 0 {
			missing = append(missing, "fields")
		}
		if len(missing) > 0 {
			errs = append(errs, fail("drift[%q]: missing %s", name, strings.Join(missing, ", ")))
			continue
		}
		m.parsed = map[string]timetravel.Pointer{}
		bad := false
		for ptr, col := range m.Fields {
			p, err := timetravel.ParsePointer(ptr)
			if err != nil || p.IsRoot() {
				errs = append(errs, fail("drift[%q].fields: %q is not a JSON pointer to a state field (e.g. \"/balance\")", name, ptr))
				bad = true
				continue
			}
			if strings.TrimSpace(col) == "" {
				errs = append(errs, fail("drift[%q].fields[%q]: empty column name", name, ptr))
				bad = true
				continue
			}
			m.parsed[ptr] = p
			m.pointers = append(m.pointers, ptr)
		}
		if bad {
			continue
		}
		sort.Strings(m.pointers)
		d.Mappings[name] = m
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// Validate checks every mapping against the database: the table must exist
// and have the key column and every mapped column. The error names them all.
func (d *DriftConfig) Validate(ctx context.Context, pool *pgxpool.Pool) error {
	var errs []error
	for _, name := range d.Names() {
		m := d.Mappings[name]
		var schema, table *string
		err := pool.QueryRow(ctx, `
			SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = to_regclass($1)`, m.Table).Scan(&schema, &table)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && table == nil) {
			errs = append(errs, fmt.Errorf("%w: drift[%q]: table %q does not exist", ErrInvalidDrift, name, m.Table))
			continue
		}
		if err != nil {
			// to_regclass raises on malformed names such as "a.b.c.d".
			errs = append(errs, fmt.Errorf("%w: drift[%q]: table %q: %v", ErrInvalidDrift, name, m.Table, err))
			continue
		}
		cols := map[string]bool{}
		rows, err := pool.Query(ctx, `
			SELECT attname FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, m.Table)
		if err != nil {
			return fmt.Errorf("projections: unable to read columns of %s: %w", m.Table, err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return fmt.Errorf("projections: unable to read columns of %s: %w", m.Table, err)
			}
			cols[c] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("projections: unable to read columns of %s: %w", m.Table, err)
		}
		var missing []string
		if !cols[m.KeyColumn] {
			missing = append(missing, m.KeyColumn)
		}
		for _, ptr := range m.pointers {
			if !cols[m.Fields[ptr]] {
				missing = append(missing, m.Fields[ptr])
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%w: drift[%q]: table %s.%s has no column %s", ErrInvalidDrift, name, *schema, *table, strings.Join(quoteAll(missing), ", ")))
			continue
		}
		m.relation = pgx.Identifier{*schema, *table}.Sanitize()
	}
	return errors.Join(errs...)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
