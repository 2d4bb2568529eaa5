// Package tracking is email engagement tracking's pure part: signed
// tokens for the open pixel and the click redirect (Signer), the rewrite
// of a message's HTML that puts them in (Rewrite), and the rules that tell
// a person's hit from a machine's (Classify). It stores nothing and
// speaks no HTTP; internal/engagement records hits and ui/ingest serves
// /t/o/{token}.gif and /t/c/{token}. See docs/engagement.md.
package tracking

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadToken: a token that is malformed, altered, forged or signed with a
// key this install does not have.
var ErrBadToken = errors.New("invalid tracking token")

// Kind is what a token is for.
type Kind byte

// Token kinds.
const (
	Open  Kind = 'o' // the open pixel
	Click Kind = 'c' // a link's redirect
)

const (
	tokenVersion = 1
	macSize      = 16 // HMAC-SHA256 truncated to 128 bits
	// MaxTokenLen bounds a token read from a URL.
	MaxTokenLen = 4096
	// MaxURLLen is the longest link that is tracked; a longer one is left
	// as it is.
	MaxURLLen = 2048
)

// Token is what a tracking token names: the delivery (and its workspace)
// and, for a click, the link's index in the message and its original URL.
// The URL travels inside the signed token, so the redirect goes only where
// the message pointed: nothing a client can change survives the signature.
type Token struct {
	Kind        Kind
	WorkspaceID string
	DeliveryID  string
	Link        int    // Click: the link's 0-based index in the message
	URL         string // Click: where the link pointed
}

// Signer signs and opens tracking tokens with HMAC-SHA256. It holds one
// key per secret key of the install, primary first: tokens are signed
// with the primary and open with any, so links in mail sent before a key
// rotation keep working while the old key is kept.
type Signer struct {
	keys [][]byte
}

// NewSigner returns a signer over keys (primary first; each at least 16
// bytes, e.g. secrets.Keyring.Subkeys("tracking v1")).
func NewSigner(keys [][]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("tracking: no signing key")
	}
	for i, k := range keys {
		if len(k) < 16 {
			return nil, fmt.Errorf("tracking: signing key %d is %d bytes, want at least 16", i, len(k))
		}
	}
	return &Signer{keys: keys}, nil
}

// Sign returns t as a URL-safe token.
func (s *Signer) Sign(t Token) (string, error) {
	if t.Kind != Open && t.Kind != Click {
		return "", fmt.Errorf("tracking: unknown token kind %q", t.Kind)
	}
	if len(t.WorkspaceID) == 0 || len(t.WorkspaceID) > 255 || len(t.DeliveryID) == 0 || len(t.DeliveryID) > 255 {
		return "", errors.New("tracking: workspace and delivery ids must be 1 to 255 bytes")
	}
	if t.Kind == Click && (t.Link < 0 || t.URL == "" || len(t.URL) > MaxURLLen) {
		return "", errors.New("tracking: a click token needs a link index and a URL of at most 2048 bytes")
	}
	b := make([]byte, 0, 4+len(t.WorkspaceID)+len(t.DeliveryID)+len(t.URL)+binary.MaxVarintLen64+macSize)
	b = append(b, tokenVersion, byte(t.Kind), byte(len(t.WorkspaceID)))
	b = append(b, t.WorkspaceID...)
	b = append(b, byte(len(t.DeliveryID)))
	b = append(b, t.DeliveryID...)
	if t.Kind == Click {
		b = binary.AppendUvarint(b, uint64(t.Link))
		b = append(b, t.URL...)
	}
	b = append(b, mac(s.keys[0], b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)[:macSize]
}

// Open verifies a token and returns what it names; anything wrong with it
// is ErrBadToken.
func (s *Signer) Open(tok string) (Token, error) {
	if len(tok) == 0 || len(tok) > MaxTokenLen {
		return Token{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 3+macSize {
		return Token{}, ErrBadToken
	}
	body, sig := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	ok := false
	for _, k := range s.keys {
		if hmac.Equal(mac(k, body), sig) {
			ok = true
			break
		}
	}
	if !ok || body[0] != tokenVersion {
		return Token{}, ErrBadToken
	}
	t := Token{Kind: Kind(body[1])}
	rest := body[2:]
	var field string
	if field, rest, ok = lenPrefixed(rest); !ok {
		return Token{}, ErrBadToken
	}
	t.WorkspaceID = field
	if field, rest, ok = lenPrefixed(rest); !ok {
		return Token{}, ErrBadToken
	}
	t.DeliveryID = field
	switch t.Kind {
	case Open:
		if len(rest) != 0 {
			return Token{}, ErrBadToken
		}
	case Click:
		idx, n := binary.Uvarint(rest)
		if n <= 0 || idx > 1<<20 {
			return Token{}, ErrBadToken
		}
		t.Link, t.URL = int(idx), string(rest[n:])
		if !Trackable(t.URL) {
			return Token{}, ErrBadToken
		}
	default:
		return Token{}, ErrBadToken
	}
	return t, nil
}

func lenPrefixed(b []byte) (string, []byte, bool) {
	if len(b) < 1 || int(b[0]) == 0 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

// Trackable reports whether a link's URL is one the click redirect may
// carry: an absolute http or https URL with a host, at most MaxURLLen
// bytes, without control characters.
func Trackable(raw string) bool {
	if raw == "" || len(raw) > MaxURLLen || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	s := strings.ToLower(u.Scheme)
	return s == "http" || s == "https"
}
