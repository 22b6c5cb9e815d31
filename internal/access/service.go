package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors the web layer and the CLI turn into answers.
var (
	// ErrInvalidCredentials is the one answer to a wrong password, an
	// unknown user and a disabled one: which it was is not told.
	ErrInvalidCredentials = errors.New("access: wrong username or password")
	// ErrThrottled is returned while an account or a client address has
	// failed too often; the sign-in is not even tried.
	ErrThrottled = errors.New("access: too many failed sign-ins")
	// ErrUnauthenticated is a missing, unknown, expired or revoked session
	// or token.
	ErrUnauthenticated = errors.New("access: not signed in or the session has expired")
	ErrUserNotFound    = errors.New("access: no such user")
	ErrUserExists      = errors.New("access: a user with this name exists")
	ErrInvalidName     = errors.New("access: a user name has 1 to 64 letters, digits or . _ @ -, starting with a letter or digit")
)

// Options are the limits of sign-ins and sessions; zero values take the
// defaults below.
type Options struct {
	// IdleTimeout ends a session unused for this long (default 30 min).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, used or not
	// (default 12 h).
	AbsoluteTimeout time.Duration
	// MaxAccountFailures failed sign-ins of one name within FailureWindow
	// block that name until the window moves on (default 5).
	MaxAccountFailures int
	// MaxAddressFailures is the same per client address (default 20): a
	// guesser spraying many names from one address is stopped too.
	MaxAddressFailures int
	// FailureWindow is the throttle's window (default 15 min).
	FailureWindow time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	if o.MaxAccountFailures <= 0 {
		o.MaxAccountFailures = 5
	}
	if o.MaxAddressFailures <= 0 {
		o.MaxAddressFailures = 20
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service manages users, sessions and tokens in auditd's schema.
type Service struct {
	pool      *pgxpool.Pool
	logger    *slog.Logger
	opts      Options
	accounts  *throttle
	addresses *throttle

	setupMu   sync.Mutex
	setupHash []byte // digest of the current setup token; nil: none
}

// NewService returns the access service on pool.
func NewService(pool *pgxpool.Pool, logger *slog.Logger, opts Options) *Service {
	opts.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		pool: pool, logger: logger, opts: opts,
		accounts:  newThrottle(opts.MaxAccountFailures, opts.FailureWindow),
		addresses: newThrottle(opts.MaxAddressFailures, opts.FailureWindow),
	}
}

// Options returns the service's limits, defaults filled in.
func (s *Service) Options() Options { return s.opts }

// User is an account.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"-"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// AddUser creates a user with a password.
func (s *Service) AddUser(ctx context.Context, name string, role Role, password string) (User, error) {
	if !nameRE.MatchString(name) {
		return User{}, ErrInvalidName
	}
	if !role.Valid() {
		return User{}, fmt.Errorf("access: invalid role %v", role)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, err
	}
	return s.insertUser(ctx, s.pool, name, role, hash)
}

// insertUser inserts one user row.
func (s *Service) insertUser(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, name string, role Role, hash string) (User, error) {
	u := User{Name: name, Role: role}
	err := q.QueryRow(ctx, `
		INSERT INTO auditd.users (name, role, password_hash) VALUES ($1, $2, $3)
		RETURNING id, created_at`, name, role.String(), hash).Scan(&u.ID, &u.CreatedAt)
	if isUniqueViolation(err) {
		return User{}, ErrUserExists
	}
	if err != nil {
		return User{}, fmt.Errorf("access: unable to add user: %w", err)
	}
	s.logger.Info("user added", "user", name, "role", role.String())
	return u, nil
}

// SetPassword replaces a user's password and ends the user's sessions:
// whoever knew the old one is signed out.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, name, `UPDATE auditd.users SET password_hash = $2 WHERE name = $1 RETURNING id`, hash)
}

// DisableUser stops a user from signing in and ends the user's sessions;
// the user's tokens stop working too.
func (s *Service) DisableUser(ctx context.Context, name string) error {
	return s.updateUser(ctx, name, `UPDATE auditd.users SET disabled_at = coalesce(disabled_at, $2) WHERE name = $1 RETURNING id`, s.opts.Now())
}

// updateUser runs one UPDATE of a user (returning its id) and deletes the
// user's sessions in the same transaction.
func (s *Service) updateUser(ctx context.Context, name, sql string, arg any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, sql, name, arg).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return fmt.Errorf("access: unable to update user: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM auditd.sessions WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("access: unable to end the user's sessions: %w", err)
		}
		return nil
	})
}

// Users lists every user by name.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, role, disabled_at IS NOT NULL, created_at FROM auditd.users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("access: unable to list users: %w", err)
	}
	var out []User
	for rows.Next() {
		var u User
		var role string
		if err := rows.Scan(&u.ID, &u.Name, &role, &u.Disabled, &u.CreatedAt); err != nil {
			return nil, fmt.Errorf("access: unable to list users: %w", err)
		}
		if u.Role, err = ParseRole(role); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access: unable to list users: %w", err)
	}
	return out, nil
}

// HasUsers reports whether any user exists.
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM auditd.users)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("access: unable to count users: %w", err)
	}
	return ok, nil
}

// SignIn checks a name and password from clientAddr. Throttled accounts
// and addresses get ErrThrottled before any check; every other failure is
// ErrInvalidCredentials, after the same argon2id work.
func (s *Service) SignIn(ctx context.Context, name, password, clientAddr string) (User, error) {
	now := s.opts.Now()
	if !nameRE.MatchString(name) {
		// No such user can exist. The name is not kept as a throttle key
		// (a flood of long names would be a flood of memory); the address
		// is charged, after the same work as a wrong password.
		if b, _ := s.addresses.blocked(clientAddr, now); b {
			return User{}, ErrThrottled
		}
		_, _ = verifyPassword(dummyHash(), password)
		s.addresses.fail(clientAddr, now)
		return User{}, ErrInvalidCredentials
	}
	accountKey, addressKey := strings.ToLower(name), clientAddr
	if b, _ := s.accounts.blocked(accountKey, now); b {
		return User{}, ErrThrottled
	}
	if b, _ := s.addresses.blocked(addressKey, now); b {
		return User{}, ErrThrottled
	}
	u, hash, err := s.userForSignIn(ctx, name)
	if err != nil {
		return User{}, err
	}
	if hash == "" {
		hash = dummyHash()
	}
	ok, err := verifyPassword(hash, password)
	if err != nil {
		return User{}, err
	}
	if !ok || !u.Role.Valid() {
		s.accounts.fail(accountKey, now)
		s.addresses.fail(addressKey, now)
		// The name may be a mistyped password: it is not logged.
		s.logger.Warn("failed sign-in", "client", clientAddr)
		return User{}, ErrInvalidCredentials
	}
	s.accounts.reset(accountKey)
	return u, nil
}

// userForSignIn reads an enabled user with a password; none: a zero User
// and an empty hash.
func (s *Service) userForSignIn(ctx context.Context, name string) (User, string, error) {
	var u User
	var role string
	var hash *string
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, role, password_hash, created_at FROM auditd.users
		WHERE name = $1 AND disabled_at IS NULL`, name).Scan(&u.ID, &u.Name, &role, &hash, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && hash == nil) {
		return User{}, "", nil
	}
	if err != nil {
		return User{}, "", fmt.Errorf("access: unable to read user: %w", err)
	}
	if u.Role, err = ParseRole(role); err != nil {
		return User{}, "", err
	}
	return u, *hash, nil
}

// newSecret returns a random secret with prefix and its SHA-256 digest,
// which is all the database keeps. A secret is 256 random bits: a fast
// digest suffices, no salt or stretching is needed.
func newSecret(prefix string) (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("access: unable to read random bytes: %w", err)
	}
	secret := prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, digest(secret), nil
}

func digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// isUniqueViolation reports whether err is a unique constraint's.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
