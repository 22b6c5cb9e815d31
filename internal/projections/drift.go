package projections

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/timetravel"
)

// ErrInvalidDrift matches every drift configuration error.
var ErrInvalidDrift = errors.New("projections: invalid drift configuration")

// ErrNoDriftMapping is returned for a projection without a drift mapping.
var ErrNoDriftMapping = errors.New("projections: no drift mapping for this projection")

// ErrUnknownJob is returned for a drift job id that does not exist.
var ErrUnknownJob = errors.New("projections: unknown drift job")

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

// FieldDiff is one mapped field whose read-model value differs from the
// folded state.
type FieldDiff struct {
	Pointer  string `json:"pointer"`
	Column   string `json:"column"`
	Expected string `json:"expected"` // folded from events, JSON text ("missing" when absent)
	Actual   string `json:"actual"`   // read model, JSON text
}

// StreamDrift is the result of checking one stream.
type StreamDrift struct {
	StreamID   string      `json:"stream_id"`
	Version    int         `json:"version"` // folded version (events at or before the checkpoint)
	MissingRow bool        `json:"missing_row"`
	Fields     []FieldDiff `json:"fields"`
}

// Drifted reports whether the read model differs from the folded state.
func (s *StreamDrift) Drifted() bool { return s.MissingRow || len(s.Fields) > 0 }

// DriftReport is a drift check over a set of streams.
type DriftReport struct {
	Projection string        `json:"projection"`
	Checkpoint int64         `json:"checkpoint"`
	Checked    int           `json:"checked"`
	Drifted    []StreamDrift `json:"drifted"`
	At         time.Time     `json:"at"`
}

// Drift compares read models with folded state and runs background "check
// all" jobs. Start/Stop bound the jobs' lifetime.
type Drift struct {
	pool   *pgxpool.Pool
	cfg    *DriftConfig
	folder *timetravel.Folder
	logger *slog.Logger

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   map[string]*Job
	order  []string
}

// NewDrift returns a checker for cfg, folding with cfg's reducers.
func NewDrift(pool *pgxpool.Pool, cfg *DriftConfig, logger *slog.Logger) *Drift {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg == nil {
		cfg = &DriftConfig{Mappings: map[string]*DriftMapping{}}
	}
	return &Drift{pool: pool, cfg: cfg, folder: timetravel.NewFolder(cfg.cfg), logger: logger, jobs: map[string]*Job{}}
}

// Config returns the mappings.
func (d *Drift) Config() *DriftConfig { return d.cfg }

// Start validates the mappings against the database and allows jobs.
func (d *Drift) Start(ctx context.Context) error {
	if err := d.cfg.Validate(ctx, d.pool); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return nil
}

// Stop cancels running jobs and waits for them.
func (d *Drift) Stop() {
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	d.wg.Wait()
}

// Mapping returns a projection's mapping or ErrNoDriftMapping.
func (d *Drift) Mapping(name string) (*DriftMapping, error) {
	m, ok := d.cfg.Mappings[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (declare it under \"drift\" in the reducers file)", ErrNoDriftMapping, name)
	}
	if m.relation == "" {
		return nil, fmt.Errorf("%w: drift[%q] was not validated against the database", ErrInvalidDrift, name)
	}
	return m, nil
}

// CheckSample checks the streams of the mapping's type that most recently
// received a processed event (up to n of them), in one consistent snapshot.
func (d *Drift) CheckSample(ctx context.Context, name string, n int) (*DriftReport, error) {
	m, err := d.Mapping(name)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		n = 50
	}
	tx, err := d.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cp, err := checkpointIn(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	ids, err := recentStreams(ctx, tx, m.StreamType, cp, n)
	if err != nil {
		return nil, err
	}
	rep := &DriftReport{Projection: name, Checkpoint: cp, Drifted: []StreamDrift{}, At: time.Now()}
	for _, id := range ids {
		sd, err := d.checkStream(ctx, tx, m, id, cp)
		if err != nil {
			return nil, err
		}
		rep.Checked++
		if sd.Drifted() {
			rep.Drifted = append(rep.Drifted, sd)
		}
	}
	return rep, nil
}

// CheckStream checks one stream against a projection's read model.
func (d *Drift) CheckStream(ctx context.Context, name, streamID string) (StreamDrift, error) {
	m, err := d.Mapping(name)
	if err != nil {
		return StreamDrift{}, err
	}
	tx, err := d.snapshot(ctx)
	if err != nil {
		return StreamDrift{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cp, err := checkpointIn(ctx, tx, name)
	if err != nil {
		return StreamDrift{}, err
	}
	return d.checkStream(ctx, tx, m, streamID, cp)
}

// snapshot opens a read-only repeatable-read transaction: the checkpoint,
// the read-model rows and the events are read at one instant, so a worker
// committing between reads cannot produce a false drift.
func (d *Drift) snapshot(ctx context.Context) (pgx.Tx, error) {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("projections: unable to begin drift snapshot: %w", err)
	}
	return tx, nil
}

// checkpointIn reads one checkpoint (0 when the projection never wrote).
func checkpointIn(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var cp int64
	err := tx.QueryRow(ctx, `SELECT position FROM projection_checkpoints WHERE projection = $1`, name).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("projections: unable to read checkpoint %q: %w", name, err)
	}
	return cp, nil
}

// recentStreams returns up to n distinct streams of a type whose events at
// or before the checkpoint are the newest: the (stream_type, position)
// index read backwards from the checkpoint.
func recentStreams(ctx context.Context, tx pgx.Tx, streamType string, cp int64, n int) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT stream_id FROM (
			SELECT stream_id, max(position) AS p FROM (
				SELECT stream_id, position FROM events
				WHERE stream_type = $1 AND position <= $2
				ORDER BY position DESC LIMIT $3
			) recent GROUP BY stream_id
		) s ORDER BY p DESC LIMIT $4`, streamType, cp, n*20, n)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to pick streams to check: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("projections: unable to pick streams to check: %w", err)
	}
	return ids, nil
}

// streamPage returns up to n stream ids of a type after a keyset cursor,
// in byte order, through the partial index on first events.
func streamPage(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, streamType, after string, n int) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT stream_id FROM events
		WHERE stream_type = $1 AND version = 1 AND stream_id COLLATE "C" > $2
		ORDER BY stream_id COLLATE "C" LIMIT $3`, streamType, after, n)
	if err != nil {
		return nil, fmt.Errorf("projections: unable to list streams: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("projections: unable to list streams: %w", err)
	}
	return ids, nil
}

// checkStream folds one stream's events up to the checkpoint and compares
// the mapped fields with the read-model row.
func (d *Drift) checkStream(ctx context.Context, tx pgx.Tx, m *DriftMapping, streamID string, cp int64) (StreamDrift, error) {
	sd := StreamDrift{StreamID: streamID, Fields: []FieldDiff{}}
	rows, err := tx.Query(ctx, `
		SELECT position, event_id::text, stream_id, stream_type, version, event_type, schema_version, payload, metadata, recorded_at
		FROM events WHERE stream_id = $1 AND position <= $2 ORDER BY version`, streamID, cp)
	if err != nil {
		return sd, fmt.Errorf("projections: unable to read stream %q: %w", streamID, err)
	}
	events, err := collect(rows)
	if err != nil {
		return sd, fmt.Errorf("projections: unable to read stream %q: %w", streamID, err)
	}
	st := timetravel.NewState(streamID, m.StreamType)
	for i := range events {
		d.folder.Apply(st, &events[i])
	}
	sd.Version = st.Version

	var raw []byte
	err = tx.QueryRow(ctx, `SELECT to_jsonb(t) FROM `+m.relation+` t WHERE `+pgx.Identifier{m.KeyColumn}.Sanitize()+`::text = $1 LIMIT 1`, streamID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		// A stream with no processed event legitimately has no row.
		sd.MissingRow = len(events) > 0
		return sd, nil
	}
	if err != nil {
		return sd, fmt.Errorf("projections: unable to read %s row %q: %w", m.Table, streamID, err)
	}
	row, err := decodeNumbers(raw)
	if err != nil {
		return sd, fmt.Errorf("projections: unable to decode %s row %q: %w", m.Table, streamID, err)
	}
	obj, _ := row.(map[string]any)
	for _, ptr := range m.pointers {
		col := m.Fields[ptr]
		want, werr := m.parsed[ptr].Get(st.Data)
		got := obj[col]
		if werr != nil {
			// Absent in the state: equal only to NULL in the row.
			if got != nil {
				sd.Fields = append(sd.Fields, FieldDiff{Pointer: ptr, Column: col, Expected: "missing", Actual: jsonText(got)})
			}
			continue
		}
		if !sameValue(want, got) {
			sd.Fields = append(sd.Fields, FieldDiff{Pointer: ptr, Column: col, Expected: jsonText(want), Actual: jsonText(got)})
		}
	}
	return sd, nil
}

func decodeNumbers(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// numeric returns v as an exact rational when it is a JSON number, or a
// string holding a decimal number (a numeric column read as text).
func numeric(v any) (*big.Rat, bool) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	case float64:
		return new(big.Rat).SetFloat64(n), true
	case string:
		s = strings.TrimSpace(n)
	default:
		return nil, false
	}
	if s == "" {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// sameValue compares a folded value with a column value: numbers by value
// (10.5 equals 10.50, and a number equals a numeric string), objects and
// arrays member by member, everything else exactly.
func sameValue(a, b any) bool {
	_, aNum := a.(json.Number)
	_, bNum := b.(json.Number)
	if aNum || bNum {
		x, ok1 := numeric(a)
		y, ok2 := numeric(b)
		return ok1 && ok2 && x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// Job is a background "check all streams" run.
type Job struct {
	ID         string        `json:"id"`
	Projection string        `json:"projection"`
	Total      int64         `json:"total"`
	Done       int64         `json:"done"`
	Drifted    []StreamDrift `json:"drifted"`
	Truncated  bool          `json:"truncated"` // more drifted streams than kept
	Finished   bool          `json:"finished"`
	Error      string        `json:"error,omitempty"`
	StartedAt  time.Time     `json:"started_at"`
	FinishedAt *time.Time    `json:"finished_at"`
}

// maxJobDrifted bounds what a job keeps in memory.
const maxJobDrifted = 1000

// maxJobs bounds the finished jobs kept for their result pages.
const maxJobs = 20

// StartJob checks every stream of the mapping's type in the background and
// returns the job id at once.
func (d *Drift) StartJob(name string) (string, error) {
	m, err := d.Mapping(name)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return "", errors.New("projections: drift checker is not running")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	job := &Job{ID: hex.EncodeToString(b[:]), Projection: name, Drifted: []StreamDrift{}, StartedAt: time.Now()}
	d.jobs[job.ID] = job
	d.order = append(d.order, job.ID)
	for len(d.order) > maxJobs {
		delete(d.jobs, d.order[0])
		d.order = d.order[1:]
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := d.runJob(d.ctx, m, job)
		d.mu.Lock()
		defer d.mu.Unlock()
		now := time.Now()
		job.Finished, job.FinishedAt = true, &now
		if err != nil {
			job.Error = err.Error()
			d.logger.Warn("projections: drift job failed", "job", job.ID, "projection", name, "error", err)
		}
	}()
	return job.ID, nil
}

// Job returns a copy of a job's progress.
func (d *Drift) Job(id string) (Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("%w: %q", ErrUnknownJob, id)
	}
	c := *j
	c.Drifted = append([]StreamDrift(nil), j.Drifted...)
	return c, nil
}

// runJob pages through every stream of the type, 200 at a time, each page
// in its own snapshot (a long job must not hold one transaction open).
func (d *Drift) runJob(ctx context.Context, m *DriftMapping, job *Job) error {
	var total int64
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE stream_type = $1 AND version = 1`, m.StreamType).Scan(&total); err != nil {
		return fmt.Errorf("projections: unable to count streams: %w", err)
	}
	d.mu.Lock()
	job.Total = total
	d.mu.Unlock()
	after := ""
	for {
		tx, err := d.snapshot(ctx)
		if err != nil {
			return err
		}
		ids, err := streamPage(ctx, tx, m.StreamType, after, 200)
		if err == nil && len(ids) > 0 {
			var cp int64
			cp, err = checkpointIn(ctx, tx, m.Projection)
			for _, id := range ids {
				if err != nil {
					break
				}
				var sd StreamDrift
				sd, err = d.checkStream(ctx, tx, m, id, cp)
				if err != nil {
					break
				}
				d.mu.Lock()
				job.Done++
				if sd.Drifted() {
					if len(job.Drifted) < maxJobDrifted {
						job.Drifted = append(job.Drifted, sd)
					} else {
						job.Truncated = true
					}
				}
				d.mu.Unlock()
			}
		}
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if len(ids) < 200 {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
