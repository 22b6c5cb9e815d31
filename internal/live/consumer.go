package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/ledger"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// ConnString is the database URL; the consumer adds replication=database.
	ConnString string
	// Publication and Slot default to auditd_events and auditd.
	Publication string
	Slot        string
	// StatusInterval is how often standby status updates are sent (default
	// 5 s, well inside the server's wal_sender_timeout of 60 s).
	StatusInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnects (default
	// 200 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Ledger, when set, gets one entry per transaction that wrote events,
	// and the slot is confirmed only up to what it holds. Without it the
	// slot is confirmed up to the oldest event of the hub's resume window,
	// so that a restarted consumer gets the window back from the slot.
	Ledger *ledger.Writer
	// Backfill, with Ledger, fills the ledger from the table when the
	// consumer creates the slot: the events committed before it, read in
	// the snapshot the slot exports, so that the hand-over has no gap and
	// no overlap. Streaming starts once it is written.
	Backfill *ledger.Backfill
	// TxMemory bounds the bytes of one transaction's events held in memory
	// until its commit (default DefaultTxMemory); the rest is spilled to a
	// temporary file in SpillDir ("" is the system's) (txspool.go).
	TxMemory int64
	SpillDir string
	// Source is the event table the consumer decodes; nil is auditd's own
	// (events and projection_checkpoints in public). A mapped table is
	// read through its column names (eventstore.NewLiveSource).
	Source *eventstore.LiveSource
	Logger *slog.Logger
}

// ledgerShutdownWait is how long the consumer waits, when PostgreSQL asks
// for a last reply before shutting down, for the ledger to hold what was
// streamed: the server does not stop until it gets the reply, but it may
// already have ended the ledger writer's connection.
const ledgerShutdownWait = 2 * time.Second

// Stats are the consumer's metrics.
type Stats struct {
	Connected       bool      `json:"connected"`
	Slot            string    `json:"slot"`
	Publication     string    `json:"publication"`
	EventsTotal     int64     `json:"events_total"`
	EventsPerSecond float64   `json:"events_per_second"`
	LastLSN         string    `json:"last_lsn"`    // everything up to here is processed
	FlushedLSN      string    `json:"flushed_lsn"` // confirmed to the slot
	StatusUpdates   int64     `json:"status_updates"`
	ServerWALEnd    string    `json:"server_wal_end"`
	LagBytes        int64     `json:"lag_bytes"` // server WAL end minus last LSN
	Reconnects      int64     `json:"reconnects"`
	LastError       string    `json:"last_error,omitempty"`
	LastEventAt     time.Time `json:"last_event_at"`
	TxSpilled       int64     `json:"tx_spilled"`    // transactions spilled to a file
	TxPeakBytes     int64     `json:"tx_peak_bytes"` // most bytes of a transaction held in memory
	Hub             HubStats  `json:"hub"`
	// Ledger is the witness ledger writer's state, when there is one.
	Ledger *ledger.WriterStats `json:"ledger,omitempty"`
	// Backfill is the back-fill's progress, when the consumer created the
	// slot with one.
	Backfill *ledger.BackfillStats `json:"backfill,omitempty"`
}

// Consumer reads the events publication from a permanent logical
// replication slot and publishes committed transactions to a Hub.
type Consumer struct {
	cfg    ConsumerConfig
	pool   *pgxpool.Pool
	hub    *Hub
	alerts *Alerts
	logger *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	stats Stats
	// flushed only ever advances: the slot ignores a lower value anyway,
	// and a lower value would claim less than we already confirmed.
	flushed    uint64
	processed  uint64
	serverEnd  uint64
	rateAt     time.Time
	rateEvents int64

	// backfillConn holds the slot's exported snapshot open (a snapshot
	// lives while the connection that exported it is idle) until the
	// back-fill has read it; nil when there is nothing to back-fill.
	backfillConn     *pgconn.PgConn
	backfillSnapshot string

	// publications are the names the consumer streams (one, or two when a
	// table without a replica identity is published for inserts only).
	publications []string
	// versions numbers the events of a table without per-stream versions.
	versions eventstore.VersionCache
}

// NewConsumer returns a consumer; nothing happens until Start.
func NewConsumer(cfg ConsumerConfig, pool *pgxpool.Pool, hub *Hub, alerts *Alerts) *Consumer {
	if cfg.Publication == "" {
		cfg.Publication = "auditd_events"
	}
	if cfg.Slot == "" {
		cfg.Slot = "auditd"
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Source == nil {
		cfg.Source = eventstore.NativeLiveSource(nil)
	}
	c := &Consumer{cfg: cfg, pool: pool, hub: hub, alerts: alerts, publications: []string{cfg.Publication},
		logger: logger.With("component", "live", "slot", cfg.Slot)}
	c.stats.Slot, c.stats.Publication = cfg.Slot, cfg.Publication
	return c
}

// Start creates the publication and the slot if missing, tells the hub where
// the slot resumes, and starts streaming in the background. It fails when
// the database cannot do logical replication (wal_level, privileges).
func (c *Consumer) Start(ctx context.Context) error {
	if err := c.ensurePublication(ctx); err != nil {
		return err
	}
	start, err := c.ensureSlot(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.flushed, c.processed = start, start
	c.mu.Unlock()
	c.hub.SetStart(start)
	c.logger.Info("live: starting replication", "publication", c.cfg.Publication, "confirmed_flush", pglogrepl.LSN(start))

	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	go func() {
		if c.backfillConn != nil && !c.backfill(ctx, start) {
			close(c.done)
			return
		}
		c.run(ctx)
	}()
	return nil
}

// backfill runs the back-fill in the slot's exported snapshot, and reports
// whether streaming may start. When it fails, the slot is dropped: the next
// start creates it again and the back-fill continues after what the ledger
// got, so that no event committed before the slot goes unwitnessed.
func (c *Consumer) backfill(ctx context.Context, start uint64) bool {
	c.logger.Info("live: back-filling the ledger from the table", "snapshot", c.backfillSnapshot)
	err := c.cfg.Backfill.Run(ctx, c.backfillSnapshot, start)
	c.backfillConn.Close(context.WithoutCancel(ctx))
	c.backfillConn = nil
	if err == nil {
		st := c.cfg.Backfill.Stats()
		c.logger.Info("live: back-fill done", "events", st.Events)
		return true
	}
	c.logger.Error("live: back-fill failed; dropping the slot so that the next start does it again", "error", err)
	c.mu.Lock()
	c.stats.LastError = err.Error()
	c.mu.Unlock()
	if _, derr := c.pool.Exec(context.WithoutCancel(ctx), `SELECT pg_drop_replication_slot($1)`, c.cfg.Slot); derr != nil {
		c.logger.Error("live: unable to drop the slot after a failed back-fill", "error", derr)
	}
	return false
}

// Stop ends streaming after a last status update.
func (c *Consumer) Stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
}

// ensurePublication creates the publication on events and
// projection_checkpoints when it does not exist; on a mapped table, the
// publications its tables need (ensureMappedPublications).
func (c *Consumer) ensurePublication(ctx context.Context) error {
	if len(c.cfg.Source.Tables) > 0 {
		return c.ensureMappedPublications(ctx)
	}
	var exists bool
	if err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, c.cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("live: unable to look up publication: %w", err)
	}
	if exists {
		return nil
	}
	_, err := c.pool.Exec(ctx, `CREATE PUBLICATION `+pgx.Identifier{c.cfg.Publication}.Sanitize()+
		` FOR TABLE public.events, public.projection_checkpoints`)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42710" { // created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("live: unable to create publication %s: %w", c.cfg.Publication, err)
	}
	return nil
}

// ensureSlot creates the permanent slot when missing and returns its
// confirmed flush position: streaming resumes there.
func (c *Consumer) ensureSlot(ctx context.Context) (uint64, error) {
	var lsn pglogrepl.LSN
	var db, plugin string
	err := c.pool.QueryRow(ctx, `
		SELECT coalesce(confirmed_flush_lsn, '0/0'::pg_lsn)::text, coalesce(database, ''), coalesce(plugin, '')
		FROM pg_replication_slots WHERE slot_name = $1`, c.cfg.Slot).Scan(&lsn, &db, &plugin)
	if err == nil {
		var cur string
		if err := c.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&cur); err != nil {
			return 0, fmt.Errorf("live: unable to read database name: %w", err)
		}
		if db != cur || plugin != "pgoutput" {
			return 0, fmt.Errorf("live: replication slot %q belongs to database %q with plugin %q; choose another --slot", c.cfg.Slot, db, plugin)
		}
		return uint64(lsn), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("live: unable to look up replication slot: %w", err)
	}
	if c.cfg.Ledger != nil && c.cfg.Backfill != nil {
		return c.createSlotWithSnapshot(ctx)
	}
	err = c.pool.QueryRow(ctx, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, c.cfg.Slot).Scan(&lsn)
	if err != nil {
		return 0, fmt.Errorf("live: unable to create replication slot %s (is wal_level logical?): %w", c.cfg.Slot, err)
	}
	c.logger.Info("live: created replication slot", "lsn", lsn)
	return uint64(lsn), nil
}

// slotName matches what PostgreSQL accepts as a slot name: the replication
// command that exports a snapshot takes the name unquoted.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// createSlotWithSnapshot creates the slot with the replication command that
// exports a snapshot, and keeps that connection for the back-fill.
func (c *Consumer) createSlotWithSnapshot(ctx context.Context) (uint64, error) {
	if !slotName.MatchString(c.cfg.Slot) {
		return 0, fmt.Errorf("live: invalid slot name %q: use lower-case letters, digits and underscores", c.cfg.Slot)
	}
	conn, err := c.connectReplication(ctx)
	if err != nil {
		return 0, err
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, c.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return 0, fmt.Errorf("live: unable to create replication slot %s (is wal_level logical?): %w", c.cfg.Slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return 0, fmt.Errorf("live: bad consistent point %q: %w", res.ConsistentPoint, err)
	}
	c.backfillConn, c.backfillSnapshot = conn, res.SnapshotName
	c.logger.Info("live: created replication slot with an exported snapshot", "lsn", lsn)
	return uint64(lsn), nil
}

// connectReplication opens a replication connection whose text output the
// consumer parses exactly.
func (c *Consumer) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pcfg, err := pgconn.ParseConfig(c.cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("live: invalid connection string: %w", err)
	}
	pcfg.RuntimeParams["replication"] = "database"
	// Timestamps come as text: fix their format so we parse them exactly.
	pcfg.RuntimeParams["timezone"] = "UTC"
	pcfg.RuntimeParams["datestyle"] = "ISO"
	pcfg.RuntimeParams["application_name"] = "auditd-live"
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("live: unable to connect for replication: %w", err)
	}
	return conn, nil
}

// run streams until ctx ends, reconnecting with exponential backoff.
func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	backoff := c.cfg.MinBackoff
	for {
		started := time.Now()
		err := c.stream(ctx)
		c.mu.Lock()
		c.stats.Connected = false
		if ctx.Err() == nil && err != nil {
			c.stats.LastError = err.Error()
			c.stats.Reconnects++
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		// A connection that worked for a while resets the backoff: this is a
		// new outage, not the same one.
		if time.Since(started) > 30*time.Second {
			backoff = c.cfg.MinBackoff
		}
		c.logger.Warn("live: replication stopped; reconnecting", "error", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

// txState accumulates one transaction between Begin and Commit.
type txState struct {
	active    bool
	commitLSN uint64
	xid       uint32
	serverEnd uint64 // the server's WAL end when the commit arrived
	events    *txSpool
	witnessed []ledger.Event // the events' ledger records, when there is a ledger
	lags      []Checkpoint
	tamper    map[string]*Alert
}

// stream runs one replication connection until it fails or ctx ends.
func (c *Consumer) stream(ctx context.Context) error {
	conn, err := c.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	opts := pglogrepl.StartReplicationOptions{PluginArgs: []string{
		"proto_version '1'",
		"publication_names '" + strings.ReplaceAll(strings.Join(quotedNames(c.publications), ","), "'", "''") + "'",
	}}
	// LSN 0: the server resumes at the slot's confirmed flush position.
	if err := pglogrepl.StartReplication(ctx, conn, c.cfg.Slot, 0, opts); err != nil {
		return fmt.Errorf("live: unable to start replication: %w", err)
	}
	c.mu.Lock()
	c.stats.Connected = true
	c.stats.LastError = ""
	c.mu.Unlock()
	c.logger.Info("live: streaming")

	// Reads wait on a socket deadline (the next status update) rather than
	// a per-read context: pgconn watches a cancellable context with a
	// goroutine per call, which at thousands of messages per second costs
	// more than decoding them. Stopping moves the deadline to now.
	netConn := conn.Conn()
	stopWatch := context.AfterFunc(ctx, func() { _ = netConn.SetReadDeadline(time.Now()) })
	defer stopWatch()

	rels := map[uint32]*relation{}
	tx := &txState{events: newTxSpool(c.cfg.TxMemory, c.cfg.SpillDir)}
	defer c.resetSpool(tx)
	nextStatus := time.Now().Add(c.cfg.StatusInterval)
	fullFlush := false
	var deadline time.Time
	for {
		if ctx.Err() != nil {
			// Tell the slot how far we got before leaving.
			_ = c.sendStatus(context.WithoutCancel(ctx), conn, false)
			return nil
		}
		if !time.Now().Before(nextStatus) {
			c.hub.Expire()
			c.mu.Lock()
			c.sampleRateLocked(time.Now())
			c.mu.Unlock()
			if err := c.sendStatus(ctx, conn, fullFlush); err != nil {
				return err
			}
			fullFlush = false
			nextStatus = time.Now().Add(c.cfg.StatusInterval)
		}
		if !nextStatus.Equal(deadline) {
			deadline = nextStatus
			_ = netConn.SetReadDeadline(deadline)
		}
		raw, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if pgconn.Timeout(err) || ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("live: replication connection failed: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("live: replication error: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("live: bad keepalive: %w", err)
				}
				c.mu.Lock()
				c.serverEnd = max(c.serverEnd, uint64(pkm.ServerWALEnd))
				// Between transactions everything the server sent is
				// processed: acknowledge its WAL end so that writes to
				// other tables do not make the slot pin WAL.
				if !tx.active {
					c.processed = max(c.processed, uint64(pkm.ServerWALEnd))
				}
				c.mu.Unlock()
				if pkm.ReplyRequested {
					// The server asks for a reply when it shuts down (it
					// then waits until we confirm all it sent, or it never
					// stops) or when we were silent for half of
					// wal_sender_timeout. Without a ledger confirm
					// everything processed: the resume window lives on in
					// memory. With one, confirm only what it holds; when
					// it cannot catch up (the server ended its connection
					// first), leave, so that the server can stop and
					// re-send the rest on the next start.
					if l := c.cfg.Ledger; l != nil && !tx.active {
						wctx, cancel := context.WithTimeout(ctx, ledgerShutdownWait)
						written := l.WaitWritten(wctx)
						cancel()
						if !written {
							_ = c.sendStatus(context.WithoutCancel(ctx), conn, false)
							return errors.New("live: the server asks for a final reply and the ledger is not written yet; reconnecting")
						}
					}
					fullFlush = true
					nextStatus = time.Time{}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("live: bad XLogData: %w", err)
				}
				tx.serverEnd = uint64(xld.ServerWALEnd)
				if err := c.handle(ctx, xld, rels, tx); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("live: unexpected message %T during replication", raw)
		}
	}
}

// handle decodes one pgoutput message.
func (c *Consumer) handle(ctx context.Context, xld pglogrepl.XLogData, rels map[uint32]*relation, tx *txState) error {
	m, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return fmt.Errorf("live: unable to decode pgoutput message: %w", err)
	}
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		rels[m.RelationID] = newRelation(m, c.cfg.Source)
	case *pglogrepl.BeginMessage:
		tx.active, tx.commitLSN, tx.xid = true, uint64(m.FinalLSN), m.Xid
		tx.witnessed, tx.lags, tx.tamper = nil, tx.lags[:0], nil
		c.resetSpool(tx)
	case *pglogrepl.InsertMessage:
		r, ok := rels[m.RelationID]
		if !ok {
			return fmt.Errorf("live: insert on unknown relation %d", m.RelationID)
		}
		switch r.kind {
		case relEvents:
			e, err := r.decodeEvent(m.Tuple)
			if err != nil {
				// One undecodable row must not stop the feed; it is still
				// in the table and shows on reload.
				c.logger.Error("live: unable to decode event", "lsn", xld.WALStart, "error", err)
				return nil
			}
			if !r.keeps(m.Tuple, &e) {
				// Filtered out by the source's where or exclude_streams,
				// as the read path filters it.
				return nil
			}
			if c.cfg.Source.NumberedVersions {
				// pgoutput sends a transaction after its commit: the
				// count the read path makes already holds this row.
				if e.Version, err = c.cfg.Source.Number(ctx, &c.versions, e.StreamID, e.Position); err != nil {
					return fmt.Errorf("live: %w", err)
				}
			}
			if err := tx.events.add(e); err != nil {
				return err
			}
			if c.cfg.Ledger != nil {
				ce := r.canonicalEvent(m.Tuple, &e)
				tx.witnessed = append(tx.witnessed, ledger.Event{Position: e.Position, StreamID: e.StreamID, Version: e.Version, Hash: ledger.HashEvent(&ce)})
			}
		case relCheckpoints:
			c.addLag(r, m.Tuple, tx, xld.WALStart)
		}
	case *pglogrepl.UpdateMessage:
		r, ok := rels[m.RelationID]
		if !ok {
			return fmt.Errorf("live: update on unknown relation %d", m.RelationID)
		}
		switch r.kind {
		case relEvents:
			tuple := m.NewTuple
			if m.OldTuple != nil {
				tuple = m.OldTuple
			}
			c.addTamper(tx, "update", r, tuple, 1)
		case relCheckpoints:
			c.addLag(r, m.NewTuple, tx, xld.WALStart)
		}
	case *pglogrepl.DeleteMessage:
		if r, ok := rels[m.RelationID]; ok && r.kind == relEvents {
			c.addTamper(tx, "delete", r, m.OldTuple, 1)
		}
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if r, ok := rels[id]; ok && r.kind == relEvents {
				c.addTamper(tx, "truncate", r, nil, 0)
			}
		}
	case *pglogrepl.CommitMessage:
		return c.commit(ctx, m, tx)
	}
	return nil
}

func (c *Consumer) addLag(r *relation, t *pglogrepl.TupleData, tx *txState, lsn pglogrepl.LSN) {
	cp, err := r.decodeCheckpoint(t)
	if err != nil {
		c.logger.Error("live: unable to decode checkpoint", "lsn", lsn, "error", err)
		return
	}
	tx.lags = append(tx.lags, cp)
}

// maxAlertPositions bounds what one alert lists: a mass UPDATE is one alert.
const maxAlertPositions = 20

func (c *Consumer) addTamper(tx *txState, kind string, r *relation, t *pglogrepl.TupleData, rows int) {
	if tx.tamper == nil {
		tx.tamper = map[string]*Alert{}
	}
	a := tx.tamper[kind]
	if a == nil {
		a = &Alert{Kind: kind, CommitLSN: pglogrepl.LSN(tx.commitLSN).String(), Xid: int64(tx.xid), Positions: []int64{}}
		tx.tamper[kind] = a
	}
	a.Rows += rows
	// Rows changed or gone change the numbering of a table without
	// per-stream versions.
	c.versions.Forget()
	// A DELETE carries only the replica identity's columns: the position
	// is listed when it is one of them.
	if t != nil && len(a.Positions) < maxAlertPositions {
		if p, err := r.int64Col(t, r.event("position")); err == nil {
			a.Positions = append(a.Positions, p)
		}
	}
}

// commit hands the transaction to the hub; only then may its LSN be
// confirmed. Tamper alerts are recorded first: when that fails the
// transaction is not confirmed, and the error makes the stream reconnect so
// that the slot sends it again (the hub drops the events it already has).
func (c *Consumer) commit(ctx context.Context, m *pglogrepl.CommitMessage, tx *txState) error {
	var fresh []*Alert
	for _, kind := range []string{"update", "delete", "truncate"} {
		a := tx.tamper[kind]
		if a == nil {
			continue
		}
		a.CommittedAt = m.CommitTime
		c.logger.Error("live: TAMPERING: events changed in the WAL", "kind", kind, "rows", a.Rows, "commit_lsn", a.CommitLSN, "xid", a.Xid)
		if c.alerts == nil {
			a.DetectedAt = time.Now()
			fresh = append(fresh, a)
			continue
		}
		isNew, err := c.alerts.Record(ctx, a)
		if err != nil {
			return err
		}
		if isNew {
			fresh = append(fresh, a)
		}
	}
	n := 0
	err := tx.events.each(func(first int, events []eventstore.Event) {
		n += c.hub.PublishTxPart(uint64(m.CommitLSN), first, events)
	})
	if err != nil {
		return err
	}
	if len(tx.witnessed) > 0 {
		// After the hub: live latency does not wait for the ledger. Submit
		// only queues (it blocks when the ledger has fallen far behind).
		// tx.witnessed is handed over, not reused.
		err := c.cfg.Ledger.Submit(ctx, ledger.Entry{CommitLSN: uint64(m.CommitLSN), Xid: int64(tx.xid), CommittedAt: m.CommitTime, Events: tx.witnessed})
		if err != nil {
			return fmt.Errorf("live: unable to queue the ledger entry: %w", err)
		}
	}
	for i := range tx.lags {
		cp := tx.lags[i]
		c.hub.Broadcast(&Message{Kind: KindLag, Checkpoint: &cp})
	}
	for _, a := range fresh {
		c.hub.Broadcast(&Message{Kind: KindAlert, Alert: a})
	}
	now := time.Now()
	c.mu.Lock()
	c.processed = max(c.processed, uint64(m.TransactionEndLSN))
	c.serverEnd = max(c.serverEnd, tx.serverEnd)
	c.stats.EventsTotal += int64(n)
	if n > 0 {
		c.stats.LastEventAt = now
	}
	c.sampleRateLocked(now)
	c.stats.TxPeakBytes = max(c.stats.TxPeakBytes, tx.events.peakBytes)
	if tx.events.spilled > 0 {
		c.stats.TxSpilled++
	}
	c.mu.Unlock()
	tx.active = false
	tx.witnessed, tx.lags, tx.tamper = nil, tx.lags[:0], nil
	c.resetSpool(tx)
	return nil
}

// resetSpool empties the transaction's spool; a spill file left behind
// costs disk, not correctness, so it is logged rather than failing the feed.
func (c *Consumer) resetSpool(tx *txState) {
	if err := tx.events.reset(); err != nil {
		c.logger.Warn("live: unable to remove a spilled transaction", "error", err)
	}
}

// sendStatus confirms what the ledger holds; without a ledger, what the
// hub holds: never past the oldest event of the resume window (unless
// full), so that a restarted auditd gets the window back from the slot.
func (c *Consumer) sendStatus(ctx context.Context, conn *pgconn.PgConn, full bool) error {
	c.mu.Lock()
	flush := c.processed
	if c.cfg.Ledger != nil {
		flush = c.cfg.Ledger.Confirmable(flush)
	} else if oldest := c.hub.RetainFrom(); !full && oldest != 0 && oldest < flush {
		flush = oldest
	}
	c.flushed = max(c.flushed, flush)
	ssu := pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(c.processed),
		WALFlushPosition: pglogrepl.LSN(c.flushed),
		WALApplyPosition: pglogrepl.LSN(c.flushed),
	}
	c.mu.Unlock()
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, ssu); err != nil {
		return fmt.Errorf("live: unable to send standby status: %w", err)
	}
	c.mu.Lock()
	c.stats.StatusUpdates++
	c.mu.Unlock()
	return nil
}

// sampleRateLocked updates events/s over the last interval of at least a
// second; the streaming loop calls it on every commit and status tick, so the
// figure does not depend on how often someone looks.
func (c *Consumer) sampleRateLocked(now time.Time) {
	if c.rateAt.IsZero() {
		c.rateAt, c.rateEvents = now, c.stats.EventsTotal
		return
	}
	if el := now.Sub(c.rateAt); el >= time.Second {
		c.stats.EventsPerSecond = float64(c.stats.EventsTotal-c.rateEvents) / el.Seconds()
		c.rateAt, c.rateEvents = now, c.stats.EventsTotal
	}
}

// Stats returns the consumer's metrics.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	c.sampleRateLocked(time.Now())
	st := c.stats
	st.LastLSN = pglogrepl.LSN(c.processed).String()
	st.FlushedLSN = pglogrepl.LSN(c.flushed).String()
	st.ServerWALEnd = pglogrepl.LSN(c.serverEnd).String()
	if c.serverEnd > c.processed {
		st.LagBytes = int64(c.serverEnd - c.processed)
	}
	c.mu.Unlock()
	st.Hub = c.hub.Stats()
	if c.cfg.Ledger != nil {
		ls := c.cfg.Ledger.Stats()
		st.Ledger = &ls
	}
	if c.cfg.Backfill != nil {
		if bs := c.cfg.Backfill.Stats(); bs.Running || bs.Done || bs.Error != "" {
			st.Backfill = &bs
		}
	}
	return st
}
