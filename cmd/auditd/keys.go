package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/auditd/auditd/internal/evidence"
	"github.com/auditd/auditd/internal/ledger"
)

// evidenceKeyFile is the signing key's name in the data directory.
const evidenceKeyFile = evidence.DefaultKeyFile

// signingKeyPath is --signing-key, or the data directory's key; the second
// result says whether the key may be generated there.
func signingKeyPath(cfg *config) (string, bool, error) {
	if cfg.SigningKey != "" {
		return cfg.SigningKey, false, nil
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return "", false, fmt.Errorf("invalid --data-dir: %w", err)
	}
	return filepath.Join(dir, evidenceKeyFile), true, nil
}

// loadSigningKey reads the signing key, generating the data directory's on
// first use (mode 0600). A key file that cannot be read or parsed stops
// the command with the file's name and the reason.
func loadSigningKey(cfg *config, logger *slog.Logger) (ed25519.PrivateKey, error) {
	path, create, err := signingKeyPath(cfg)
	if err != nil {
		return nil, err
	}
	key, created, err := evidence.LoadOrCreateKey(path, create)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("generated the evidence signing key", "file", path, "key_id", ledger.KeyID(key.Public().(ed25519.PublicKey)))
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Not an error: the key may be shared deliberately (a secret
		// mount); but whoever reads it can sign evidence.
		logger.Warn("the evidence signing key is readable by other users: chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	return key, nil
}

// runKeys prints the public key that verifies checkpoints and evidence
// bundles, as a PEM "PUBLIC KEY" block (the form verify-evidence's
// --public-key reads), and its id on standard error.
func runKeys(_ context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	if err := parse(newFlagSet("keys", cfg, stderr), args); err != nil {
		return err
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	key, err := loadSigningKey(cfg, logger)
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	if _, err := stdout.Write(evidence.PublicKeyPEM(pub)); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "key id", ledger.KeyID(pub))
	return nil
}

// runCheckpoint signs the witness ledger's head now.
func runCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, logger, db, err := openCommand(ctx, "checkpoint", args, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := loadSigningKey(cfg, logger)
	if err != nil {
		return err
	}
	cp, err := ledger.NewCheckpointer(ledger.CheckpointerConfig{Key: key, Interval: -1, Logger: logger}, ledger.NewStore(db.State)).
		Checkpoint(ctx, ledger.ReasonOnDemand)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed checkpoint #%d: head %s, %d entries since the previous one, at %s, key %s\n",
		cp.Seq, pglogrepl.LSN(cp.HeadLSN), cp.Entries, cp.CreatedAt.Format(time.RFC3339), cp.KeyID)
	return nil
}
