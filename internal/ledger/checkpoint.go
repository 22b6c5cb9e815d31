package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// DefaultCheckpointInterval is how often serve signs the ledger's head.
const DefaultCheckpointInterval = 24 * time.Hour

// Checkpoint reasons.
const (
	ReasonInterval = "interval"
	ReasonOnDemand = "on demand"
	ReasonEvidence = "evidence" // made for an evidence bundle whose events the last one did not cover
)

// Checkpoint is a signed statement about one segment of the ledger: the
// entries after FromLSN (exclusive; 0 for the first checkpoint) up to and
// including HeadLSN. It signs the segment's bounds and entry count, the
// head entry's chain hash, and the Merkle root over the segment's entry
// hashes (MerkleRoot), so that an entry is proven with MerkleProof's few
// hashes instead of the chain since.
type Checkpoint struct {
	Seq        int64     `json:"seq"`
	FromLSN    uint64    `json:"-"`
	HeadLSN    uint64    `json:"-"`
	Entries    int       `json:"entries"`
	HeadHash   Hash      `json:"-"`
	MerkleRoot Hash      `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	Reason     string    `json:"reason"`
	KeyID      string    `json:"key_id"`
	Signature  []byte    `json:"-"`
}

// KeyID names an Ed25519 public key: "ed25519:" and the first 16 bytes of
// its SHA-256, in hex. Bundles and checkpoints carry it, so a verifier can
// say which key signed what it refuses.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:16])
}

// Statement is the text the checkpoint's signature covers, one field per
// line in a fixed order. It is text so that a reviewer can read what was
// signed, and every field is in it (the reason too), so that nothing shown
// beside a valid signature is unsigned.
func (c *Checkpoint) Statement() []byte {
	return fmt.Appendf(nil, "auditd ledger checkpoint v1\nseq: %d\nfrom_lsn: %s\nhead_lsn: %s\nentries: %d\nhead_hash: %x\nmerkle_root: %x\ncreated_at: %s\nreason: %s\nkey_id: %s\n",
		c.Seq, pglogrepl.LSN(c.FromLSN), pglogrepl.LSN(c.HeadLSN), c.Entries, c.HeadHash, c.MerkleRoot,
		c.CreatedAt.UTC().Format(time.RFC3339Nano), strconv.Quote(c.Reason), c.KeyID)
}

// Signature verification errors.
var (
	// ErrOtherKey: the checkpoint names another key than the one given.
	ErrOtherKey = errors.New("signed by another key")
	// ErrBadSignature: the signature does not verify: the statement was
	// altered after signing.
	ErrBadSignature = errors.New("the signature does not match the signed fields")
)

// VerifySignature checks the checkpoint's signature with pub.
func (c *Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if want := KeyID(pub); c.KeyID != want {
		return fmt.Errorf("checkpoint #%d: %w (%s, not %s)", c.Seq, ErrOtherKey, c.KeyID, want)
	}
	if !ed25519.Verify(pub, c.Statement(), c.Signature) {
		return fmt.Errorf("checkpoint #%d: %w", c.Seq, ErrBadSignature)
	}
	return nil
}

// ErrEmptyLedger is returned by Checkpoint while the ledger has no entry.
var ErrEmptyLedger = errors.New("ledger: the ledger is empty: there is nothing to sign yet")

const checkpointColumns = `seq, from_lsn::text, head_lsn::text, entries, head_hash, merkle_root, created_at, reason, key_id, signature`

func scanCheckpoint(row pgx.Row) (Checkpoint, error) {
	var c Checkpoint
	var from, head pglogrepl.LSN
	var hh, root []byte
	if err := row.Scan(&c.Seq, &from, &head, &c.Entries, &hh, &root, &c.CreatedAt, &c.Reason, &c.KeyID, &c.Signature); err != nil {
		return c, err
	}
	if len(hh) != HashSize || len(root) != HashSize {
		return c, fmt.Errorf("ledger: checkpoint #%d has a malformed hash", c.Seq)
	}
	c.FromLSN, c.HeadLSN = uint64(from), uint64(head)
	copy(c.HeadHash[:], hh)
	copy(c.MerkleRoot[:], root)
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// Checkpoints returns up to limit checkpoints, newest first, and how many
// there are.
func (s *Store) Checkpoints(ctx context.Context, limit int) ([]Checkpoint, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM auditd.ledger_checkpoints`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("ledger: unable to count checkpoints: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM auditd.ledger_checkpoints ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: unable to read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("ledger: unable to scan a checkpoint: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("ledger: unable to read checkpoints: %w", err)
	}
	return out, total, nil
}

// latestCheckpoint is the newest checkpoint read through q, nil for none.
func latestCheckpoint(ctx context.Context, q pgx.Tx) (*Checkpoint, error) {
	c, err := scanCheckpoint(q.QueryRow(ctx, `SELECT `+checkpointColumns+` FROM auditd.ledger_checkpoints ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: unable to read the latest checkpoint: %w", err)
	}
	return &c, nil
}

// segmentLeaves reads the entry hashes of (from, to] in commit order, with
// their commit LSNs (to 0: up to the head).
func segmentLeaves(ctx context.Context, q pgx.Tx, from, to uint64) ([]Hash, []uint64, error) {
	// Ordered by the table's column: the text output column of the same
	// name would sort "0/10" before "0/9".
	rows, err := q.Query(ctx, `SELECT l.commit_lsn::text, l.hash FROM auditd.ledger l
		WHERE l.commit_lsn > $1::text::pg_lsn AND ($2 = '0/0' OR l.commit_lsn <= $2::text::pg_lsn) ORDER BY l.commit_lsn`,
		pglogrepl.LSN(from).String(), pglogrepl.LSN(to).String())
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: unable to read entry hashes: %w", err)
	}
	defer rows.Close()
	var hashes []Hash
	var lsns []uint64
	for rows.Next() {
		var lsn pglogrepl.LSN
		var h []byte
		if err := rows.Scan(&lsn, &h); err != nil {
			return nil, nil, fmt.Errorf("ledger: unable to scan an entry hash: %w", err)
		}
		if len(h) != HashSize {
			return nil, nil, fmt.Errorf("ledger: entry %s has a %d-byte hash", lsn, len(h))
		}
		hashes, lsns = append(hashes, Hash(h)), append(lsns, uint64(lsn))
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("ledger: unable to read entry hashes: %w", err)
	}
	return hashes, lsns, nil
}

// CheckpointStatus is a stored checkpoint checked again: its signature
// with the key given, and its head against the ledger.
type CheckpointStatus struct {
	Checkpoint
	Valid bool
	// Problem says what is wrong when not Valid.
	Problem string
}

// Check verifies c's signature with pub and that the ledger still holds
// its head entry with the signed hash. The Merkle root is recomputed when
// a bundle is proven against the checkpoint (Prove), not here: a page of
// checkpoints would read the whole ledger.
func (s *Store) Check(ctx context.Context, c Checkpoint, pub ed25519.PublicKey) (CheckpointStatus, error) {
	st := CheckpointStatus{Checkpoint: c}
	if err := c.VerifySignature(pub); err != nil {
		st.Problem = err.Error()
		return st, nil
	}
	if c.Entries > 0 {
		e, err := s.Entry(ctx, c.HeadLSN)
		if err != nil {
			return st, err
		}
		switch {
		case e == nil:
			st.Problem = fmt.Sprintf("the ledger no longer holds the head entry %s", pglogrepl.LSN(c.HeadLSN))
			return st, nil
		case e.Hash != c.HeadHash:
			st.Problem = fmt.Sprintf("the ledger's entry %s no longer has the signed hash", pglogrepl.LSN(c.HeadLSN))
			return st, nil
		}
	}
	st.Valid = true
	return st, nil
}

// CheckpointerConfig configures a Checkpointer.
type CheckpointerConfig struct {
	// Key signs the checkpoints.
	Key ed25519.PrivateKey
	// Interval between checkpoints (default DefaultCheckpointInterval;
	// negative: only on demand). A checkpoint is skipped when the ledger
	// has not grown since the last one.
	Interval time.Duration
	Logger   *slog.Logger
}

// Checkpointer signs the ledger's head at an interval and on demand. Safe
// for concurrent use.
type Checkpointer struct {
	cfg    CheckpointerConfig
	store  *Store
	logger *slog.Logger
	pub    ed25519.PublicKey

	mu sync.Mutex // one checkpoint at a time: each continues the previous

	cancel context.CancelFunc
	done   chan struct{}
}

// NewCheckpointer returns a checkpointer signing with cfg.Key; nothing is
// signed at an interval until Start.
func NewCheckpointer(cfg CheckpointerConfig, store *Store) *Checkpointer {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultCheckpointInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checkpointer{cfg: cfg, store: store, logger: logger.With("component", "checkpoints"),
		pub: cfg.Key.Public().(ed25519.PublicKey)}
}

// PublicKey is the key that verifies the checkpoints.
func (c *Checkpointer) PublicKey() ed25519.PublicKey { return c.pub }

// Store is the ledger the checkpointer signs.
func (c *Checkpointer) Store() *Store { return c.store }

// Start reads the latest checkpoint (the table must exist) and signs the
// head whenever the interval since the latest one has passed: at once
// when it passed while auditd was stopped, so restarts do not postpone
// checkpoints for ever.
func (c *Checkpointer) Start(ctx context.Context) error {
	last, err := c.latest(ctx)
	if err != nil {
		return err
	}
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	if c.cfg.Interval < 0 {
		close(c.done)
		return nil
	}
	go func() {
		defer close(c.done)
		c.run(ctx, last)
	}()
	return nil
}

// Stop ends the interval checkpoints and waits for one under way.
func (c *Checkpointer) Stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
}

func (c *Checkpointer) latest(ctx context.Context) (*Checkpoint, error) {
	var last *Checkpoint
	err := pgx.BeginTxFunc(ctx, c.store.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		last, err = latestCheckpoint(ctx, tx)
		return err
	})
	return last, err
}

func (c *Checkpointer) run(ctx context.Context, last *Checkpoint) {
	due := time.Now()
	if last != nil {
		due = last.CreatedAt.Add(c.cfg.Interval)
	}
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		cp, err := c.checkpoint(ctx, ReasonInterval, true)
		switch {
		case err == nil && cp != nil:
			c.logger.Info("signed a ledger checkpoint", "seq", cp.Seq, "head_lsn", pglogrepl.LSN(cp.HeadLSN).String(), "entries", cp.Entries)
		case err != nil && !errors.Is(err, ErrEmptyLedger) && ctx.Err() == nil:
			c.logger.Warn("unable to sign a ledger checkpoint", "error", err)
		}
		timer.Reset(c.cfg.Interval)
	}
}

// Checkpoint signs the ledger's head now and stores the checkpoint: the
// segment since the latest checkpoint (it may be empty, then the statement
// re-signs the same head at a new time).
func (c *Checkpointer) Checkpoint(ctx context.Context, reason string) (Checkpoint, error) {
	cp, err := c.checkpoint(ctx, reason, false)
	if err != nil {
		return Checkpoint{}, err
	}
	return *cp, nil
}

// checkpoint signs the segment since the latest checkpoint; with
// skipUnchanged, a segment without entries is not signed (nil, nil).
// Replicas sharing a store sign in turn: a transaction-scoped advisory
// lock, taken before the latest checkpoint is read, orders them, so each
// continues the previous one instead of colliding on its seq.
func (c *Checkpointer) checkpoint(ctx context.Context, reason string, skipUnchanged bool) (*Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out *Checkpoint
	err := pgx.BeginTxFunc(ctx, c.store.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Read committed: the statements after the lock see what the
		// previous holder committed. The ledger is append-only, so the
		// hashes read after the latest checkpoint start where it ended.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('auditd.ledger_checkpoints'))`); err != nil {
			return fmt.Errorf("ledger: unable to take the checkpoint lock: %w", err)
		}
		last, err := latestCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		cp := Checkpoint{Seq: 1, Reason: reason, KeyID: KeyID(c.pub)}
		if last != nil {
			cp.Seq, cp.FromLSN, cp.HeadLSN, cp.HeadHash = last.Seq+1, last.HeadLSN, last.HeadLSN, last.HeadHash
		}
		leaves, lsns, err := segmentLeaves(ctx, tx, cp.FromLSN, 0)
		if err != nil {
			return err
		}
		switch {
		case len(leaves) == 0 && last == nil:
			return ErrEmptyLedger
		case len(leaves) == 0 && skipUnchanged:
			return nil
		case len(leaves) > 0:
			cp.HeadLSN, cp.HeadHash = lsns[len(lsns)-1], leaves[len(leaves)-1]
		}
		cp.Entries, cp.MerkleRoot = len(leaves), MerkleRoot(leaves)
		// The database stores microseconds: sign what it will give back.
		cp.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
		cp.Signature = ed25519.Sign(c.cfg.Key, cp.Statement())
		if _, err := tx.Exec(ctx, `INSERT INTO auditd.ledger_checkpoints (seq, from_lsn, head_lsn, entries, head_hash, merkle_root, created_at, reason, key_id, signature)
			VALUES ($1, $2::text::pg_lsn, $3::text::pg_lsn, $4, $5, $6, $7, $8, $9, $10)`,
			cp.Seq, pglogrepl.LSN(cp.FromLSN).String(), pglogrepl.LSN(cp.HeadLSN).String(), cp.Entries, cp.HeadHash[:], cp.MerkleRoot[:],
			cp.CreatedAt, cp.Reason, cp.KeyID, cp.Signature); err != nil {
			return fmt.Errorf("ledger: unable to store checkpoint #%d: %w", cp.Seq, err)
		}
		out = &cp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Sign signs message with the checkpoints' key: evidence bundles are
// signed by the key that signs the checkpoints they are proven against.
func (c *Checkpointer) Sign(message []byte) []byte { return ed25519.Sign(c.cfg.Key, message) }
