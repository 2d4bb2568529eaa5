package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// ErrBadToken means a token is malformed, forged or from another install.
var ErrBadToken = errors.New("invalid token")

const tokenVersion = 1

// Tokens seals small payloads into URL-safe, tamper-proof tokens, so
// Waymark can hand out links (unsubscribe) that carry their own state and
// need nothing stored. Payloads are encrypted as well as authenticated, so
// a token in a URL or an access log does not reveal an email address.
type Tokens struct {
	aeads []cipher.AEAD // primary first
}

// Tokens returns a sealer for one purpose; tokens of one purpose never open
// as another's. It opens tokens made with older keys of the keyring too.
func (kr *Keyring) Tokens(purpose string) (*Tokens, error) {
	subs, err := kr.Subkeys("tokens " + purpose)
	if err != nil {
		return nil, err
	}
	t := &Tokens{}
	for _, k := range subs {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		t.aeads = append(t.aeads, aead)
	}
	return t, nil
}

// Seal returns a token carrying payload.
func (t *Tokens) Seal(payload []byte) string {
	a := t.aeads[0]
	buf := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(payload)+a.Overhead())
	buf[0] = tokenVersion
	if _, err := rand.Read(buf[1:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := a.Seal(buf, buf[1:], payload, buf[:1])
	return base64.RawURLEncoding.EncodeToString(out)
}

// Open returns the payload of a token made by Seal with any key of the keyring.
func (t *Tokens) Open(tok string) ([]byte, error) {
	if len(tok) > 2048 {
		return nil, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 1 || raw[0] != tokenVersion {
		return nil, ErrBadToken
	}
	for _, a := range t.aeads {
		n := a.NonceSize()
		if len(raw) < 1+n+a.Overhead() {
			return nil, ErrBadToken
		}
		if pt, err := a.Open(nil, raw[1:1+n], raw[1+n:], raw[:1]); err == nil {
			return pt, nil
		}
	}
	return nil, ErrBadToken
}
