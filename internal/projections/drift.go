package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/timetravel"
)

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
	store  *eventstore.Store
	cfg    *DriftConfig
	folder *timetravel.Folder
	logger *slog.Logger

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	jobs   jobList
}

// NewDrift returns a checker for cfg, folding with cfg's reducers, on
// auditd's own events table in pool.
func NewDrift(pool *pgxpool.Pool, cfg *DriftConfig, logger *slog.Logger) *Drift {
	return NewDriftOn(eventstore.New(pool), cfg, logger)
}

// NewDriftOn is NewDrift reading events and checkpoints through store (the
// one mapped store on an application's table); the read models are in the
// same database.
func NewDriftOn(store *eventstore.Store, cfg *DriftConfig, logger *slog.Logger) *Drift {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg == nil {
		cfg = &DriftConfig{Mappings: map[string]*DriftMapping{}}
	}
	return &Drift{pool: store.Pool(), store: store, cfg: cfg, folder: timetravel.NewFolder(cfg.cfg), logger: logger,
		jobs: jobList{byID: map[string]*Job{}}}
}

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
	var rep *DriftReport
	err = d.inSnapshot(ctx, func(tx pgx.Tx, es *eventstore.Store) error {
		cp, err := es.CheckpointPosition(ctx, name)
		if err != nil {
			return err
		}
		ids, err := es.RecentStreams(ctx, m.StreamType, cp, n)
		if err != nil {
			return err
		}
		rep = &DriftReport{Projection: name, Checkpoint: cp, Drifted: []StreamDrift{}, At: time.Now()}
		for _, id := range ids {
			sd, err := d.checkStream(ctx, tx, es, m, id, cp)
			if err != nil {
				return err
			}
			rep.Checked++
			if sd.Drifted() {
				rep.Drifted = append(rep.Drifted, sd)
			}
		}
		return nil
	})
	return rep, err
}

// CheckStream checks one stream against a projection's read model.
func (d *Drift) CheckStream(ctx context.Context, name, streamID string) (StreamDrift, error) {
	m, err := d.Mapping(name)
	if err != nil {
		return StreamDrift{}, err
	}
	var sd StreamDrift
	err = d.inSnapshot(ctx, func(tx pgx.Tx, es *eventstore.Store) error {
		cp, err := es.CheckpointPosition(ctx, name)
		if err != nil {
			return err
		}
		sd, err = d.checkStream(ctx, tx, es, m, streamID, cp)
		return err
	})
	return sd, err
}

// inSnapshot runs fn in a read-only repeatable-read transaction: the
// checkpoint, the read-model rows and the events are read at one instant
// (events and checkpoints through es, the event store on that transaction),
// so a worker committing between reads cannot produce a false drift.
func (d *Drift) inSnapshot(ctx context.Context, fn func(tx pgx.Tx, es *eventstore.Store) error) error {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("projections: unable to begin drift snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(tx, d.store.InTx(tx))
}

// checkStream folds one stream's events up to the checkpoint and compares
// the mapped fields with the read-model row, both read in tx (es is the
// event store on tx).
func (d *Drift) checkStream(ctx context.Context, tx pgx.Tx, es *eventstore.Store, m *DriftMapping, streamID string, cp int64) (StreamDrift, error) {
	sd := StreamDrift{StreamID: streamID, Fields: []FieldDiff{}}
	events, err := es.StreamUpTo(ctx, streamID, cp)
	if err != nil {
		return sd, err
	}
	st := timetravel.NewState(streamID, m.StreamType)
	for i := range events {
		d.folder.Apply(st, &events[i])
	}
	sd.Version = st.Version

	row, found, err := m.readRow(ctx, tx, streamID)
	if err != nil {
		return sd, err
	}
	if !found {
		// A stream with no processed event legitimately has no row.
		sd.MissingRow = len(events) > 0
		return sd, nil
	}
	sd.Fields = m.compare(st.Data, row)
	return sd, nil
}

// readRow reads the read-model row keyed by streamID as a JSON object,
// numbers kept exact.
func (m *DriftMapping) readRow(ctx context.Context, tx pgx.Tx, streamID string) (map[string]any, bool, error) {
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT to_jsonb(t) FROM `+m.relation+` t WHERE `+pgx.Identifier{m.KeyColumn}.Sanitize()+`::text = $1 LIMIT 1`, streamID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("projections: unable to read %s row %q: %w", m.Table, streamID, err)
	}
	row, err := timetravel.DecodeJSON(raw)
	if err != nil {
		return nil, false, fmt.Errorf("projections: unable to decode %s row %q: %w", m.Table, streamID, err)
	}
	obj, _ := row.(map[string]any)
	return obj, true, nil
}
