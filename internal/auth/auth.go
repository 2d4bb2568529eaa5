// Package auth holds Waymark's credential primitives: password hashing
// (argon2id), random tokens, and API keys. It has no storage of its own.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (RFC 9106 second recommended option, with 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// ErrMismatch means a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// CheckPassword returns why a new password is unacceptable, or nil.
func CheckPassword(pw string) error {
	if len(pw) < MinPasswordLength {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("password must be at most 1024 characters")
	}
	return nil
}

// HashPassword returns a PHC-formatted argon2id hash of pw.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks pw against a hash made by HashPassword, in constant time.
func VerifyPassword(hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("unsupported password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("unsupported argon2 version")
	}
	var mem uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return errors.New("malformed argon2 parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return errors.New("malformed argon2 salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return errors.New("malformed argon2 key")
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// Token returns n random bytes, base64url-encoded.
func Token(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a high-entropy token (session or API
// key). Tokens are random, so a fast hash is enough: only the hash is stored.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// API key scopes.
const (
	ScopeEventsWrite   = "events:write"
	ScopeProfilesRead  = "profiles:read"
	ScopeProfilesWrite = "profiles:write"
	ScopeJourneysRead  = "journeys:read"
	ScopeJourneysWrite = "journeys:write"
	ScopeAdmin         = "admin"
)

// Scopes lists every scope an API key may carry.
var Scopes = []string{ScopeEventsWrite, ScopeProfilesRead, ScopeProfilesWrite, ScopeJourneysRead, ScopeJourneysWrite, ScopeAdmin}

// ParseScopes splits a comma- or space-separated scope list and checks each.
func ParseScopes(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("no scopes given (choose from %s)", strings.Join(Scopes, ", "))
	}
	var out []string
	for _, f := range fields {
		if !slices.Contains(Scopes, f) {
			return nil, fmt.Errorf("unknown scope %q (choose from %s)", f, strings.Join(Scopes, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// APIKeyPrefix starts every API key, so leaked keys are easy to scan for.
const APIKeyPrefix = "wmk_"

// NewAPIKey returns a new key, the short prefix shown in lists, and the hash to store.
func NewAPIKey() (key, prefix, hash string) {
	key = APIKeyPrefix + Token(32)
	return key, key[:len(APIKeyPrefix)+6], HashToken(key)
}
