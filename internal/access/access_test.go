package access

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a test clock the service reads; tests move it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type bundle struct {
	t     *testing.T
	db    *pgtest.DB
	svc   *Service
	clock *clock
}

func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	db := pgtest.NewDB(t)
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = c.Now
	return &bundle{t: t, db: db, svc: NewService(db.Pool, nil, opts), clock: c}
}

const pw = "correct horse battery"

func (b *bundle) add(name string, role Role) User {
	b.t.Helper()
	u, err := b.svc.AddUser(b.t.Context(), name, role, pw)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

func TestRolesAreOrdered(t *testing.T) {
	t.Parallel()
	for _, r := range Roles() {
		p, err := ParseRole(r.String())
		if err != nil || p != r {
			t.Fatalf("ParseRole(%q) = %v, %v", r, p, err)
		}
	}
	if !Admin.Reaches(Compliance) || !Engineer.Reaches(Support) || Support.Reaches(Engineer) || Compliance.Reaches(Admin) {
		t.Fatal("role order is wrong")
	}
	if Role(0).Reaches(Support) || Admin.Reaches(Role(0)) || Role(9).Valid() {
		t.Fatal("the zero role reaches something")
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("unknown role parsed")
	}
}

func TestPasswordsAreArgon2idAndVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	u := b.add("alice", Engineer)
	var stored string
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT password_hash FROM auditd.users WHERE id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) < 20 || stored[:10] != "$argon2id$" {
		t.Fatalf("stored hash %q is not argon2id", stored)
	}
	got, err := b.svc.SignIn(t.Context(), "alice", pw, "10.0.0.1")
	if err != nil || got.ID != u.ID || got.Role != Engineer {
		t.Fatalf("sign-in: %+v %v", got, err)
	}
	if _, err := b.svc.SignIn(t.Context(), "alice", pw+"x", "10.0.0.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := b.svc.SignIn(t.Context(), "nobody", pw, "10.0.0.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := b.svc.AddUser(t.Context(), "bob", Support, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := b.svc.AddUser(t.Context(), "alice", Support, pw); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := b.svc.AddUser(t.Context(), "'; DROP TABLE x", Support, pw); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	// A new password works, the old one does not, open sessions end.
	sid, err := b.svc.StartSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.SetPassword(t.Context(), "alice", pw+" two"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.SignIn(t.Context(), "alice", pw, "10.0.0.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after passwd: %v", err)
	}
	if _, err := b.svc.SignIn(t.Context(), "alice", pw+" two", "10.0.0.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := b.svc.Session(t.Context(), sid); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session survived passwd: %v", err)
	}
	if err := b.svc.SetPassword(t.Context(), "nobody", pw); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("passwd of unknown: %v", err)
	}
}

func TestDisabledUserCannotSignInOrUseSessionsAndTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	u := b.add("carol", Compliance)
	sid, err := b.svc.StartSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := b.svc.CreateToken(t.Context(), "carol", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.DisableUser(t.Context(), "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.SignIn(t.Context(), "carol", pw, "10.0.0.2"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("disabled sign-in: %v", err)
	}
	if _, err := b.svc.Session(t.Context(), sid); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("disabled session: %v", err)
	}
	if _, err := b.svc.TokenUser(t.Context(), secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("disabled token: %v", err)
	}
	users, err := b.svc.Users(t.Context())
	if err != nil || len(users) != 1 || !users[0].Disabled || users[0].Role != Compliance {
		t.Fatalf("users: %+v %v", users, err)
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour})
	u := b.add("dave", Support)

	// Idle: unused past the idle limit, the session is gone.
	idle, err := b.svc.StartSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.add(9 * time.Minute)
	if got, err := b.svc.Session(t.Context(), idle); err != nil || got.Name != "dave" {
		t.Fatalf("session within idle limit: %+v %v", got, err)
	}
	// The use above refreshed it: 9 more minutes is still within.
	b.clock.add(9 * time.Minute)
	if _, err := b.svc.Session(t.Context(), idle); err != nil {
		t.Fatalf("refreshed session: %v", err)
	}
	b.clock.add(11 * time.Minute)
	if _, err := b.svc.Session(t.Context(), idle); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("idle session: %v", err)
	}
	var n int
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("expired session row kept: %d %v", n, err)
	}

	// Absolute: used every 5 minutes, it still ends an hour after sign-in.
	abs, err := b.svc.StartSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	for range 11 {
		b.clock.add(5 * time.Minute)
		if _, err := b.svc.Session(t.Context(), abs); err != nil {
			t.Fatalf("busy session before the absolute limit: %v", err)
		}
	}
	b.clock.add(6 * time.Minute)
	if _, err := b.svc.Session(t.Context(), abs); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session past the absolute limit: %v", err)
	}

	// Only the digest of the id is stored; sign-out ends the session.
	out, err := b.svc.StartSession(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT id_hash FROM auditd.sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) == out || len(stored) != 32 {
		t.Fatalf("session id stored as %x", stored)
	}
	if err := b.svc.EndSession(t.Context(), out); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Session(t.Context(), out); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session after sign-out: %v", err)
	}
	if _, err := b.svc.Session(t.Context(), "forged"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("forged session: %v", err)
	}
}

func TestSignInThrottledPerAccountAndPerAddress(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{MaxAccountFailures: 3, MaxAddressFailures: 5, FailureWindow: 10 * time.Minute})
	b.add("erin", Support)
	for i := range 3 {
		if _, err := b.svc.SignIn(t.Context(), "erin", "wrong password!", "10.0.0."+string(rune('1'+i))); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// The account is blocked, from any address, even with the right password.
	if _, err := b.svc.SignIn(t.Context(), "erin", pw, "10.9.9.9"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("throttled account: %v", err)
	}
	// An unknown name is throttled the same way: the answers do not tell
	// which names exist.
	for range 3 {
		if _, err := b.svc.SignIn(t.Context(), "ghost", "wrong password!", "10.1.0.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("unknown name: %v", err)
		}
	}
	if _, err := b.svc.SignIn(t.Context(), "ghost", "wrong password!", "10.1.0.9"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("throttled unknown name: %v", err)
	}
	// A name no user can have (a 100 KB one) costs the address, and is not
	// kept.
	if _, err := b.svc.SignIn(t.Context(), strings.Repeat("x", 100_000), pw, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("oversized name: %v", err)
	}
	b.svc.accounts.mu.Lock()
	for k := range b.svc.accounts.fails {
		if len(k) > 64 {
			t.Errorf("throttle keeps a %d-byte name", len(k))
		}
	}
	b.svc.accounts.mu.Unlock()
	// Per address: many names from one address.
	b.add("frank", Support)
	for i := range 5 {
		if _, err := b.svc.SignIn(t.Context(), "spray"+string(rune('a'+i)), "wrong password!", "192.0.2.7"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("spray %d: %v", i, err)
		}
	}
	if _, err := b.svc.SignIn(t.Context(), "frank", pw, "192.0.2.7"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("throttled address: %v", err)
	}
	if _, err := b.svc.SignIn(t.Context(), "frank", pw, "192.0.2.8"); err != nil {
		t.Fatalf("other address: %v", err)
	}
	// The window moves on.
	b.clock.add(11 * time.Minute)
	if _, err := b.svc.SignIn(t.Context(), "erin", pw, "10.9.9.9"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestTokensExpireAndAreRevoked(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	b.add("grace", Engineer)
	tok, secret, err := b.svc.CreateToken(t.Context(), "grace", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := b.svc.TokenUser(t.Context(), secret); err != nil || u.Name != "grace" || u.Role != Engineer {
		t.Fatalf("token: %+v %v", u, err)
	}
	var n int
	if err := b.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM auditd.api_tokens WHERE secret_hash = convert_to($1, 'UTF8')`, secret).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token stored in clear: %d %v", n, err)
	}
	if err := b.svc.RevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.TokenUser(t.Context(), secret); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	_, secret2, err := b.svc.CreateToken(t.Context(), "grace", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.add(time.Hour + time.Second)
	if _, err := b.svc.TokenUser(t.Context(), secret2); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired token: %v", err)
	}
	if err := b.svc.RevokeToken(t.Context(), 99999); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, _, err := b.svc.CreateToken(t.Context(), "nobody", time.Hour); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("token for unknown user: %v", err)
	}
	if _, err := b.svc.TokenUser(t.Context(), "auditd_forged"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("forged token: %v", err)
	}
}

func TestSetupTokenCreatesTheFirstAdminOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	tok, err := b.svc.NewSetupToken(t.Context())
	if err != nil || tok == "" {
		t.Fatalf("setup token: %q %v", tok, err)
	}
	if _, err := b.svc.CompleteSetup(t.Context(), "wrong", "root", pw); !errors.Is(err, ErrBadSetupToken) {
		t.Fatalf("wrong setup token: %v", err)
	}
	u, err := b.svc.CompleteSetup(t.Context(), tok, "root", pw)
	if err != nil || u.Role != Admin {
		t.Fatalf("setup: %+v %v", u, err)
	}
	if _, err := b.svc.CompleteSetup(t.Context(), tok, "root2", pw); !errors.Is(err, ErrBadSetupToken) {
		t.Fatalf("setup token reused: %v", err)
	}
	if _, err := b.svc.NewSetupToken(t.Context()); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("setup token with users: %v", err)
	}
	if _, err := b.svc.SignIn(t.Context(), "root", pw, "127.0.0.1"); err != nil {
		t.Fatalf("first admin signs in: %v", err)
	}
}
