// Package secrets encrypts credentials at rest (connector secrets, journey
// webhook signing secrets) and signs the tokens Waymark hands out
// (unsubscribe links).
//
// Every value is sealed with AES-256-GCM under a random 96-bit nonce, with
// associated data that binds it to where it belongs (the connector and the
// field), so a ciphertext copied to another row or field does not open.
// Each sealed value carries the id of the key that sealed it; a Keyring
// holds the current key (used to seal) and any previous keys (used only to
// open), which is what key rotation needs.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length of a secret key: AES-256.
const KeySize = 32

// ErrWrongKey means a value was sealed with a key the keyring does not
// hold, or does not open with the key its id names (tampered, moved to
// another field, or a different key with a colliding id).
var ErrWrongKey = errors.New("secret does not open with the configured key")

// Sealed is an encrypted value as stored: the id of the key that sealed it
// and base64(nonce || ciphertext || tag).
type Sealed struct {
	KeyID      string `json:"key_id"`
	Ciphertext string `json:"ciphertext"`
}

type key struct {
	id   string
	aead cipher.AEAD
	raw  []byte
}

// Keyring holds the current key and older keys still accepted for opening.
type Keyring struct {
	primary *key
	byID    map[string]*key
	order   []*key // primary first, then older keys in the order given
}

// KeyID returns the public id of a key: "k" and the first 8 hex digits of
// SHA-256 over a domain-separated input. It identifies the key without
// revealing it.
func KeyID(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("waymark key id v1\x00"))
	h.Write(raw)
	return "k" + hex.EncodeToString(h.Sum(nil)[:4])
}

func newKey(raw []byte) (*key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(raw))
	}
	enc, err := derive(raw, "connector secrets v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &key{id: KeyID(raw), aead: aead, raw: append([]byte(nil), raw...)}, nil
}

// derive returns a 32-byte subkey for one purpose (HKDF-SHA256), so the
// same configured key never serves two algorithms.
func derive(raw []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, raw, nil, "waymark "+purpose, 32)
}

// NewKeyring returns a keyring that seals with primary and opens with
// primary or any of old. Keys are 32 bytes; duplicates are ignored.
func NewKeyring(primary []byte, old ...[]byte) (*Keyring, error) {
	p, err := newKey(primary)
	if err != nil {
		return nil, fmt.Errorf("current key: %w", err)
	}
	kr := &Keyring{primary: p, byID: map[string]*key{p.id: p}, order: []*key{p}}
	for i, raw := range old {
		k, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("old key %d: %w", i+1, err)
		}
		if _, dup := kr.byID[k.id]; dup {
			continue
		}
		kr.byID[k.id] = k
		kr.order = append(kr.order, k)
	}
	return kr, nil
}

// PrimaryID is the id of the key new values are sealed with.
func (kr *Keyring) PrimaryID() string { return kr.primary.id }

// Has reports whether the keyring holds the key with this id.
func (kr *Keyring) Has(id string) bool { _, ok := kr.byID[id]; return ok }

// IDs lists the ids of every key, the primary first.
func (kr *Keyring) IDs() []string {
	out := make([]string, len(kr.order))
	for i, k := range kr.order {
		out[i] = k.id
	}
	return out
}

// Seal encrypts plaintext with the primary key; ad (associated data) must
// be given again, identical, to open it.
func (kr *Keyring) Seal(plaintext, ad []byte) (Sealed, error) {
	k := kr.primary
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, err
	}
	out := k.aead.Seal(nonce, nonce, plaintext, ad)
	return Sealed{KeyID: k.id, Ciphertext: base64.StdEncoding.EncodeToString(out)}, nil
}

// Open decrypts a sealed value. A value sealed under a key the keyring
// lacks, or that fails authentication, is ErrWrongKey.
func (kr *Keyring) Open(s Sealed, ad []byte) ([]byte, error) {
	k, ok := kr.byID[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: sealed with key %s, configured keys are %v", ErrWrongKey, s.KeyID, kr.IDs())
	}
	raw, err := base64.StdEncoding.DecodeString(s.Ciphertext)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: malformed ciphertext", ErrWrongKey)
	}
	n := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (key %s)", ErrWrongKey, s.KeyID)
	}
	return pt, nil
}

// NeedsReseal reports whether s is sealed with an older key.
func (kr *Keyring) NeedsReseal(s Sealed) bool { return s.KeyID != kr.primary.id }

// Subkey derives a key for another purpose (e.g. "unsubscribe tokens v1")
// from each key, primary first, for callers that verify with old keys too.
func (kr *Keyring) Subkeys(purpose string) ([][]byte, error) {
	out := make([][]byte, len(kr.order))
	for i, k := range kr.order {
		d, err := derive(k.raw, purpose)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// ConnectorAD is the associated data binding a connector secret to its
// connector and field.
func ConnectorAD(connectorID, field string) []byte {
	return []byte("waymark connector secret v1\x00" + connectorID + "\x00" + field)
}

// HookAD is the associated data binding a journey webhook's signing secret
// to its journey (internal/hooks seals them; key checks and rotation open
// them).
func HookAD(journeyID string) []byte { return []byte("hook secret:" + journeyID) }
