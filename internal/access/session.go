package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// touchEvery is how stale a session's last_seen_at may get before a
// request writes it again: a page view is not a write. The idle expiry is
// therefore exact to within this interval.
const touchEvery = time.Minute

// StartSession opens a session for u and returns its id, the cookie's
// value. Only the id's digest is stored.
func (s *Service) StartSession(ctx context.Context, u User) (string, error) {
	id, hash, err := newSecret("")
	if err != nil {
		return "", err
	}
	now := s.opts.Now()
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO auditd.sessions (id_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)`,
		hash, u.ID, now); err != nil {
		return "", fmt.Errorf("access: unable to start session: %w", err)
	}
	return id, nil
}

// OpenSession is a session's user and what the session carries besides.
type OpenSession struct {
	User
	// CaseRef is the case reference set for the session (SetSessionCase),
	// which its access log entries carry; empty: none.
	CaseRef string
}

// Session returns the user of an open session, refreshing its idle
// expiry. A session past its idle or absolute expiry is deleted and
// answers ErrUnauthenticated, as an unknown one does.
func (s *Service) Session(ctx context.Context, id string) (OpenSession, error) {
	if id == "" {
		return OpenSession{}, ErrUnauthenticated
	}
	hash := digest(id)
	var o OpenSession
	var role string
	var created, seen time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT u.id, u.name, u.role, u.created_at, s.created_at, s.last_seen_at, s.case_ref
		FROM auditd.sessions s JOIN auditd.users u ON u.id = s.user_id
		WHERE s.id_hash = $1 AND u.disabled_at IS NULL`, hash).Scan(&o.ID, &o.Name, &role, &o.CreatedAt, &created, &seen, &o.CaseRef)
	if errors.Is(err, pgx.ErrNoRows) {
		return OpenSession{}, ErrUnauthenticated
	}
	if err != nil {
		return OpenSession{}, fmt.Errorf("access: unable to read session: %w", err)
	}
	now := s.opts.Now()
	if now.Sub(seen) > s.opts.IdleTimeout || now.Sub(created) > s.opts.AbsoluteTimeout {
		if err := s.EndSession(ctx, id); err != nil {
			return OpenSession{}, err
		}
		return OpenSession{}, ErrUnauthenticated
	}
	if now.Sub(seen) > touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE auditd.sessions SET last_seen_at = $2 WHERE id_hash = $1`, hash, now); err != nil {
			return OpenSession{}, fmt.Errorf("access: unable to refresh session: %w", err)
		}
	}
	if o.Role, err = ParseRole(role); err != nil {
		return OpenSession{}, err
	}
	return o, nil
}

// EndSession deletes a session (signing out); an unknown one is no error.
func (s *Service) EndSession(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM auditd.sessions WHERE id_hash = $1`, digest(id)); err != nil {
		return fmt.Errorf("access: unable to end session: %w", err)
	}
	return nil
}
