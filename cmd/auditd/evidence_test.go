package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditd/auditd/internal/eventstore"
	"github.com/auditd/auditd/internal/pgtest"
)

func TestKeysCommandGeneratesOnceAndPrintsPEM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := func(args ...string) (string, string, error) {
		var out, errOut strings.Builder
		err := run(t.Context(), append([]string{"keys"}, args...), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	first, info, err := keys("--data-dir", dir)
	if err != nil || !strings.HasPrefix(first, "-----BEGIN PUBLIC KEY-----\n") || !strings.Contains(info, "key id ed25519:") {
		t.Fatalf("keys: %q %q %v", first, info, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "signing-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the generated key file: %v, %v", fi, err)
	}
	if again, _, err := keys("--data-dir", dir); err != nil || again != first {
		t.Fatalf("a second run printed another key: %q %v", again, err)
	}
	// A key others can read still works, with a warning.
	data, err := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.pem")
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, info, err := keys("--signing-key", open); err != nil || out != first || !strings.Contains(info, "readable by other users") {
		t.Fatalf("a 0644 key: %q %v", info, err)
	}
	// --signing-key names a key; it is never invented, and a bad one is a
	// clear error.
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "none.pem"), "unable to read the signing key"},
		{bad, "is not usable"},
		{dir, "unable to read the signing key"},
	} {
		if _, _, err := keys("--signing-key", c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--signing-key %s: %v, want %q", c.path, err, c.want)
		}
	}
	// serve stops at start-up on a bad key.
	db := pgtest.NewDB(t)
	err = run(t.Context(), []string{"serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--no-live", "--auth=off", "--signing-key", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "bad.pem is not usable") {
		t.Fatalf("serve with a malformed key: %v", err)
	}
}

// TestVerifyEvidenceCommandOnAServedBundle downloads a bundle from a
// running serve (its consumer writing the ledger) and checks it with the
// command, offline: valid with the data directory's key and with the
// printed public key; refused, with the reason, when altered or checked
// with another key.
func TestVerifyEvidenceCommandOnAServedBundle(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dataDir := t.TempDir()
	slot := "evidence_cli_test"
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	})
	base := startCommand(t, "serve", "--database-url", db.ConnString, "--listen", "127.0.0.1:0", "--auth=off", "--slot", slot, "--data-dir", dataDir)
	store := eventstore.New(db.Pool)
	for i := range 4 {
		if _, err := store.Append(t.Context(), "wallet-ev", "Wallet", eventstore.AnyVersion,
			eventstore.NewEvent{EventType: "MoneyDeposited", Payload: json.RawMessage(fmt.Sprintf(`{"amount": %d, "note": "é"}`, i+1))},
			eventstore.NewEvent{EventType: "MoneyWithdrawn", Payload: json.RawMessage(`{"amount": 1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var bundle []byte
	// Until the ledger holds the events, the route answers 409.
	pgtest.WaitFor(t, "the evidence bundle", 30*time.Second, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(base + "streams/wallet-ev/evidence?from=v:1&to=v:8")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		bundle, err = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, err
	})
	file := filepath.Join(t.TempDir(), "bundle.json")
	write := func(name string, data []byte) string {
		p := filepath.Join(filepath.Dir(file), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("bundle.json", bundle)
	verify := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(t.Context(), append([]string{"verify-evidence"}, args...), &out, io.Discard)
		return out.String(), err
	}
	out, err := verify(file, "--data-dir", dataDir)
	if err != nil || !strings.HasPrefix(out, "valid: stream wallet-ev, v1 to v8: 7 events in 4 ledger entries") ||
		!strings.Contains(out, "states: the events folded onto the state at v1 give the state at v8") {
		t.Fatalf("verify-evidence with the data directory's key: %q %v", out, err)
	}
	var pub strings.Builder
	if err := run(t.Context(), []string{"keys", "--data-dir", dataDir}, &pub, io.Discard); err != nil {
		t.Fatal(err)
	}
	pubFile := write("public.pem", []byte(pub.String()))
	if out, err := verify("--public-key", pubFile, file); err != nil || !strings.HasPrefix(out, "valid:") {
		t.Fatalf("verify-evidence --public-key: %q %v", out, err)
	}

	// The command signs a checkpoint on demand (nothing new since the
	// bundle's).
	var cp strings.Builder
	if err := run(t.Context(), []string{"checkpoint", "--database-url", db.ConnString, "--data-dir", dataDir}, &cp, io.Discard); err != nil ||
		!regexp.MustCompile(`^signed checkpoint #\d+: head \d+/[0-9A-F]+, 0 entries since the previous one`).MatchString(cp.String()) {
		t.Fatalf("checkpoint: %q %v", cp.String(), err)
	}

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(otherKey.Public())
	otherFile := write("other.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	altered := bytes.Replace(bundle, []byte(`\"amount\": 2`), []byte(`\"amount\": 3`), 1)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a payload byte", []string{write("altered.json", altered), "--public-key", pubFile}, "event v3 (position"},
		{"truncated", []string{write("cut.json", bundle[:len(bundle)-40]), "--public-key", pubFile}, "truncated"},
		{"another key", []string{file, "--public-key", otherFile}, "signed by another key"},
		{"no key file", []string{file, "--public-key", filepath.Join(dataDir, "nope.pem")}, "unable to read the public key"},
		{"no bundle", []string{"--public-key", pubFile}, "usage: auditd verify-evidence FILE"},
	} {
		if _, err := verify(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
