package access

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSetupDone is returned once a user exists: the setup token creates the
// first admin only.
var ErrSetupDone = errors.New("access: setup is done: users exist; sign in, or add users with `auditd users add`")

// ErrBadSetupToken is a setup token that is not the current one.
var ErrBadSetupToken = errors.New("access: this setup link is not valid (it is shown once per start of auditd)")

// NewSetupToken returns a one-time token for creating the first admin, or
// ErrSetupDone when users exist. Each call replaces the previous token;
// it lives in memory, so a restart prints a new one.
func (s *Service) NewSetupToken(ctx context.Context) (string, error) {
	has, err := s.HasUsers(ctx)
	if err != nil {
		return "", err
	}
	if has {
		return "", ErrSetupDone
	}
	tok, hash, err := newSecret("")
	if err != nil {
		return "", err
	}
	s.setupMu.Lock()
	s.setupHash = hash
	s.setupMu.Unlock()
	return tok, nil
}

// CheckSetupToken reports whether tok is the current setup token.
func (s *Service) CheckSetupToken(tok string) bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.setupHash != nil && subtle.ConstantTimeCompare(digest(tok), s.setupHash) == 1
}

// CompleteSetup creates the first admin with the setup token, which is
// then spent. Two concurrent setups cannot both create an admin: the
// table is locked while it is checked to be empty.
func (s *Service) CompleteSetup(ctx context.Context, tok, name, password string) (User, error) {
	if !s.CheckSetupToken(tok) {
		return User{}, ErrBadSetupToken
	}
	if !nameRE.MatchString(name) {
		return User{}, ErrInvalidName
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE auditd.users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("access: unable to lock users: %w", err)
		}
		var has bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM auditd.users)`).Scan(&has); err != nil {
			return fmt.Errorf("access: unable to count users: %w", err)
		}
		if has {
			return ErrSetupDone
		}
		u, err = s.insertUser(ctx, tx, name, Admin, hash)
		return err
	})
	if err != nil {
		return User{}, err
	}
	s.setupMu.Lock()
	s.setupHash = nil
	s.setupMu.Unlock()
	return u, nil
}

// RandomPassword returns a random password of 26 characters (128 bits),
// for `auditd demo`'s users.
func RandomPassword() string { return rand.Text() }
