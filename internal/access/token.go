package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// tokenPrefix marks auditd's API tokens, so that a leaked one is easy to
// recognise in a scanner's rules.
const tokenPrefix = "auditd_"

// ErrTokenNotFound is a revoke of a token id that does not exist.
var ErrTokenNotFound = errors.New("access: no such token")

// Token is an API token's record; the secret itself is shown once, by
// CreateToken, and never stored.
type Token struct {
	ID        int64      `json:"id"`
	User      string     `json:"user"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// CreateToken makes an API token for the named user that expires after
// validFor, and returns its record and the secret.
func (s *Service) CreateToken(ctx context.Context, userName string, validFor time.Duration) (Token, string, error) {
	if validFor <= 0 {
		return Token{}, "", fmt.Errorf("access: a token's lifetime must be positive, not %v", validFor)
	}
	secret, hash, err := newSecret(tokenPrefix)
	if err != nil {
		return Token{}, "", err
	}
	now := s.opts.Now()
	t := Token{User: userName, CreatedAt: now, ExpiresAt: now.Add(validFor)}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO auditd.api_tokens (user_id, secret_hash, created_at, expires_at)
		SELECT id, $2, $3, $4 FROM auditd.users WHERE name = $1
		RETURNING id`, userName, hash, t.CreatedAt, t.ExpiresAt).Scan(&t.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, "", ErrUserNotFound
	}
	if err != nil {
		return Token{}, "", fmt.Errorf("access: unable to create token: %w", err)
	}
	s.logger.Info("API token created", "token_id", t.ID, "user", userName, "expires_at", t.ExpiresAt)
	return t, secret, nil
}

// RevokeToken stops a token from working, for good.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE auditd.api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, s.opts.Now())
	if err != nil {
		return fmt.Errorf("access: unable to revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrTokenNotFound
	}
	s.logger.Info("API token revoked", "token_id", id)
	return nil
}

// TokenUser returns the user of a valid token: known, not revoked, not
// expired, its user enabled. Anything else is ErrUnauthenticated.
func (s *Service) TokenUser(ctx context.Context, secret string) (User, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return User{}, ErrUnauthenticated
	}
	var u User
	var role string
	err := s.pool.QueryRow(ctx, `
		SELECT u.id, u.name, u.role, u.created_at
		FROM auditd.api_tokens t JOIN auditd.users u ON u.id = t.user_id
		WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.disabled_at IS NULL`,
		digest(secret), s.opts.Now()).Scan(&u.ID, &u.Name, &role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, fmt.Errorf("access: unable to read token: %w", err)
	}
	if u.Role, err = ParseRole(role); err != nil {
		return User{}, err
	}
	return u, nil
}
