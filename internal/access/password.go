package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's minimum for argon2id (19 MiB, 2 passes, one
// lane). A sign-in costs tens of milliseconds and 19 MiB, which the
// throttle keeps from being a lever for exhausting the server.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// maxPasswordLength bounds the work a sign-in request can cause.
const maxPasswordLength = 1024

// ErrWeakPassword is returned for passwords outside the accepted lengths.
var ErrWeakPassword = fmt.Errorf("access: a password must have %d to %d characters", MinPasswordLength, maxPasswordLength)

var b64 = base64.RawStdEncoding

// hashPassword returns password's argon2id hash in PHC string form, with
// its parameters, so that changing them later keeps old hashes readable.
func hashPassword(password string) (string, error) {
	if n := len([]rune(password)); n < MinPasswordLength || len(password) > maxPasswordLength {
		return "", ErrWeakPassword
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("access: unable to read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("access: stored password hash is not argon2id PHC")

// verifyPassword reports whether password matches the PHC hash, comparing
// in constant time.
func verifyPassword(hash, password string) (bool, error) {
	if len(password) > maxPasswordLength {
		return false, nil
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil || memory == 0 || time == 0 || threads == 0 {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when the user does not exist or cannot
// sign in with a password, so that such a sign-in costs what a wrong
// password costs and timing tells nothing.
var dummyHash = sync.OnceValue(func() string {
	h, err := hashPassword("auditd-dummy-password-never-matches")
	if err != nil {
		panic(err)
	}
	return h
})
