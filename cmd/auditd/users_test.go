package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/access"
	"github.com/auditd/auditd/internal/pgtest"
)

// auditd runs the command and returns its standard output.
func auditd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(t.Context(), args, &out, io.Discard)
	return out.String(), err
}

// passwordFile writes pw to a file and returns its path.
func passwordFile(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsersCommands(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	svc := access.NewService(db.Pool, nil, access.Options{})
	pw := passwordFile(t, "a long enough password")

	// The name may come before or after the flags.
	out, err := auditd(t, "users", "add", "alice", "--role", "engineer", "--password-file", pw, "--database-url", db.ConnString)
	if err != nil || !strings.Contains(out, "added user alice with the engineer role") {
		t.Fatalf("users add: %q %v", out, err)
	}
	if _, err := auditd(t, "users", "add", "--database-url", db.ConnString, "--role", "compliance", "--password-file", pw, "bob"); err != nil {
		t.Fatalf("users add, name last: %v", err)
	}
	if u, err := svc.SignIn(t.Context(), "alice", "a long enough password", "127.0.0.1"); err != nil || u.Role != access.Engineer {
		t.Fatalf("alice signs in: %+v %v", u, err)
	}
	if _, err := auditd(t, "users", "add", "carol", "--role", "root", "--password-file", pw, "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := auditd(t, "users", "add", "alice", "--role", "admin", "--password-file", pw, "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, err := auditd(t, "users", "add", "dave", "--role", "admin", "--password-file", passwordFile(t, "short"), "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "12 to") {
		t.Fatalf("short password: %v", err)
	}
	if _, err := auditd(t, "users", "add", "--role", "admin", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "want one NAME") {
		t.Fatalf("no name: %v", err)
	}

	// passwd: the new password works.
	if out, err := auditd(t, "users", "passwd", "alice", "--password-file", passwordFile(t, "another long password"), "--database-url", db.ConnString); err != nil || !strings.Contains(out, "changed the password of alice") {
		t.Fatalf("users passwd: %q %v", out, err)
	}
	if _, err := svc.SignIn(t.Context(), "alice", "another long password", "127.0.0.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}

	// disable, then list shows it.
	if out, err := auditd(t, "users", "disable", "bob", "--database-url", db.ConnString); err != nil || !strings.Contains(out, "disabled user bob") {
		t.Fatalf("users disable: %q %v", out, err)
	}
	if _, err := auditd(t, "users", "disable", "nobody", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Fatalf("disable unknown: %v", err)
	}
	out, err = auditd(t, "users", "list", "--database-url", db.ConnString)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		strings.Join(strings.Fields(lines[1])[:3], " ") != "alice engineer active" ||
		strings.Join(strings.Fields(lines[2])[:3], " ") != "bob compliance disabled" {
		t.Fatalf("users list:\n%s", out)
	}
	if _, err := auditd(t, "users", "nope"); err == nil {
		t.Fatal("unknown users subcommand accepted")
	}
}

func TestTokensCommands(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	svc := access.NewService(db.Pool, nil, access.Options{})
	if _, err := svc.AddUser(t.Context(), "ci", access.Support, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	out, err := auditd(t, "tokens", "create", "--user", "ci", "--expires", "2h", "--database-url", db.ConnString)
	if err != nil {
		t.Fatalf("tokens create: %v", err)
	}
	// The token is printed once, on its own line, after its id.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "token ") {
		t.Fatalf("tokens create output: %q", out)
	}
	secret := lines[1]
	id := strings.Fields(lines[0])[1]
	u, err := svc.TokenUser(t.Context(), secret)
	if err != nil || u.Name != "ci" {
		t.Fatalf("created token: %+v %v", u, err)
	}
	var expires time.Time
	if err := db.Pool.QueryRow(t.Context(), `SELECT expires_at FROM auditd.api_tokens WHERE id = $1::bigint`, id).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(expires); d < 110*time.Minute || d > 2*time.Hour {
		t.Fatalf("--expires 2h: token expires in %v", d)
	}
	if out, err := auditd(t, "tokens", "revoke", id, "--database-url", db.ConnString); err != nil || !strings.Contains(out, "revoked token "+id) {
		t.Fatalf("tokens revoke: %q %v", out, err)
	}
	if _, err := svc.TokenUser(t.Context(), secret); err == nil {
		t.Fatal("revoked token still works")
	}
	if _, err := auditd(t, "tokens", "create", "--user", "nobody", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Fatalf("token for unknown user: %v", err)
	}
	if _, err := auditd(t, "tokens", "create", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "--user is required") {
		t.Fatalf("token without user: %v", err)
	}
	if _, err := auditd(t, "tokens", "revoke", "abc", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "not a token id") {
		t.Fatalf("revoke of a non-number: %v", err)
	}
	if _, err := auditd(t, "tokens", "revoke", "99999", "--database-url", db.ConnString); err == nil || !strings.Contains(err.Error(), "no such token") {
		t.Fatalf("revoke of unknown: %v", err)
	}
}
