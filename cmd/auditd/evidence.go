package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditd/auditd/internal/evidence"
	"github.com/auditd/auditd/internal/timetravel"
)

// runVerifyEvidence checks an evidence bundle offline, with no database:
// exit 0 and a summary when it is valid, an error listing every problem
// otherwise.
func runVerifyEvidence(_ context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	pos, err := parseArgs(newFlagSet("verify-evidence", cfg, stderr), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: auditd verify-evidence FILE [--public-key FILE]")
	}
	pub, source, err := verifyingKey(cfg)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("unable to read the bundle: %w", err)
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	reducers, err := loadReducers(cfg, logger)
	if err != nil {
		return err
	}
	r, err := evidence.Verify(data, pub, timetravel.NewFolder(reducers))
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	ids := make([]string, len(r.Checkpoints))
	for i, c := range r.Checkpoints {
		ids[i] = fmt.Sprintf("#%d", c)
	}
	proven := "proven against checkpoint " + strings.Join(ids, ", ")
	if len(ids) == 0 {
		proven = "an empty window, nothing to prove"
	}
	fmt.Fprintf(stdout, "valid: stream %s, v%d to v%d: %d events in %d ledger entries, %s; made %s for %s (%s), signed by %s (%s)\n",
		r.StreamID, r.FromVersion, r.ToVersion, r.Events, r.Entries, proven, r.CreatedAt.Format(time.RFC3339),
		r.Viewer.User, r.Viewer.Role, r.KeyID, source)
	if r.StatesRefolded {
		fmt.Fprintf(stdout, "states: the events folded onto the state at v%d give the state at v%d\n", r.FromVersion, r.ToVersion)
	} else {
		fmt.Fprintf(stdout, "states: covered by the bundle's signature, not folded again: %s\n", r.StatesNote)
	}
	return nil
}

// verifyingKey is --public-key, else the signing key's public half
// (--signing-key, or the data directory's key), and where it came from.
func verifyingKey(cfg *config) (ed25519.PublicKey, string, error) {
	path := cfg.PublicKey
	if path == "" {
		var err error
		if path, _, err = signingKeyPath(cfg); err != nil {
			return nil, "", err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("unable to read the public key (--public-key): %w", err)
	}
	pub, err := evidence.ParsePublicKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("the public key %s is not usable: %w", path, err)
	}
	return pub, path, nil
}
