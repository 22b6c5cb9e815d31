// Package evidence is auditd's signed evidence: the Ed25519 signing key
// (its file, its PEM form), evidence bundles of a stream's window built from
// the table, the time-travel states and the witness ledger's checkpoints,
// and their offline verification (Verify), which needs no database.
package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultKeyFile is the signing key's name in the data directory.
const DefaultKeyFile = "signing-key.pem"

// LoadOrCreateKey reads the Ed25519 private key in path (PEM, PKCS #8). When
// the file does not exist and create is set (the data directory's default
// key), it generates one and writes it with mode 0600; a key named with
// --signing-key is never invented. A file that cannot be read or is not an
// Ed25519 private key is an error naming the file.
func LoadOrCreateKey(path string, create bool) (ed25519.PrivateKey, bool, error) {
	data, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) && create {
		if created, err = generateKey(path); err != nil {
			return nil, false, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("unable to read the signing key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("the signing key %s is not usable: %w", path, err)
	}
	return key, created, nil
}

// generateKey writes a new key to path unless a file is there already
// (another process starting at the same time won): the key is written
// whole to a temporary file and then linked into place, so no reader ever
// sees half a key and no key is overwritten.
func generateKey(path string) (bool, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Errorf("unable to generate a signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, fmt.Errorf("unable to encode the signing key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("unable to create the signing key's directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".signing-key-*")
	if err != nil {
		return false, fmt.Errorf("unable to write the signing key: %w", err)
	}
	defer os.Remove(f.Name())
	// CreateTemp's mode is 0600 already; the key is never readable by others.
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("unable to write the signing key: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("unable to write the signing key: %w", err)
	}
	return true, nil
}

// ParsePrivateKey reads a PEM "PRIVATE KEY" block holding an Ed25519 key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`want a PEM "PRIVATE KEY" block (PKCS #8)`)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS #8 private key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", key)
	}
	return ed, nil
}

// PublicKeyPEM is the public key as a PEM "PUBLIC KEY" block (PKIX), the
// form `auditd keys` prints and /about/keys shows.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// An ed25519.PublicKey of the right size always encodes.
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey reads the key that verifies a bundle: a PEM "PUBLIC KEY"
// block as PublicKeyPEM writes it, or the PEM private key file itself (the
// data directory's), whose public half it takes.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New(`want a PEM "PUBLIC KEY" block, as auditd keys prints it`)
	case block.Type == "PRIVATE KEY":
		key, err := ParsePrivateKey(data)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf(`a PEM %q block, want "PUBLIC KEY"`, block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKIX public key: %w", err)
	}
	ed, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", key)
	}
	return ed, nil
}
