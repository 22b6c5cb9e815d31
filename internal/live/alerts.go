package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditd/auditd/internal/ledger"
)

// Alert is a tamper alert: rows of events changed or removed in one
// transaction.
type Alert struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"` // update, delete, truncate, verify
	CommitLSN   string    `json:"commit_lsn"`
	Xid         int64     `json:"xid"`
	Rows        int       `json:"rows"`
	Positions   []int64   `json:"positions"`
	CommittedAt time.Time `json:"committed_at"`
	DetectedAt  time.Time `json:"detected_at"`
}

// AlertSummary is what page headers show.
type AlertSummary struct {
	Count  int64
	Latest *Alert
}

// Alerts stores tamper alerts in auditd.alerts.
type Alerts struct {
	pool *pgxpool.Pool
}

// NewAlerts returns the alert store on pool.
func NewAlerts(pool *pgxpool.Pool) *Alerts { return &Alerts{pool: pool} }

// Record inserts a; it reports false when the alert was already recorded (a
// re-sent transaction after a restart).
func (s *Alerts) Record(ctx context.Context, a *Alert) (bool, error) {
	if a.Positions == nil {
		a.Positions = []int64{}
	}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO auditd.alerts (kind, commit_lsn, xid, rows, positions, committed_at)
		VALUES ($1, $2::pg_lsn, $3, $4, $5, $6)
		ON CONFLICT (commit_lsn, kind) DO NOTHING
		RETURNING id, detected_at`,
		a.Kind, a.CommitLSN, a.Xid, a.Rows, a.Positions, a.CommittedAt).Scan(&a.ID, &a.DetectedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("live: unable to record tamper alert: %w", err)
	}
	return true, nil
}

// RecordVerification records the tamper alert of a broken whole-store
// verification (kind verify), keyed by its first broken entry, so that
// the next run finding the same break records nothing new.
func (s *Alerts) RecordVerification(ctx context.Context, r ledger.AuditReport) error {
	a := &Alert{Kind: "verify", CommitLSN: r.AlertLSN, Xid: r.AlertXid, Rows: r.ProblemCount, CommittedAt: r.AlertCommit}
	if a.CommitLSN == "" {
		a.CommitLSN = "0/0" // an empty ledger: no entry to name
	}
	if a.CommittedAt.IsZero() {
		a.CommittedAt = r.StartedAt // a back-filled entry has no commit time
	}
	for _, p := range r.Problems {
		if p.Position > 0 && len(a.Positions) < 10 {
			a.Positions = append(a.Positions, p.Position)
		}
	}
	_, err := s.Record(ctx, a)
	return err
}

// Recent returns the newest alerts first.
func (s *Alerts) Recent(ctx context.Context, limit int) ([]Alert, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, commit_lsn::text, xid, rows, positions, committed_at, detected_at
		FROM auditd.alerts ORDER BY detected_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("live: unable to read alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Alert, error) {
		var a Alert
		err := row.Scan(&a.ID, &a.Kind, &a.CommitLSN, &a.Xid, &a.Rows, &a.Positions, &a.CommittedAt, &a.DetectedAt)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("live: unable to read alerts: %w", err)
	}
	return out, nil
}

// Summary counts the alerts and returns the newest.
func (s *Alerts) Summary(ctx context.Context) (AlertSummary, error) {
	var sum AlertSummary
	var a Alert
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) OVER (), id, kind, commit_lsn::text, xid, rows, positions, committed_at, detected_at
		FROM auditd.alerts ORDER BY detected_at DESC, id DESC LIMIT 1`).
		Scan(&sum.Count, &a.ID, &a.Kind, &a.CommitLSN, &a.Xid, &a.Rows, &a.Positions, &a.CommittedAt, &a.DetectedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sum, nil
	}
	if err != nil {
		return sum, fmt.Errorf("live: unable to summarise alerts: %w", err)
	}
	sum.Latest = &a
	return sum, nil
}
