package secrets_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/secrets"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secrets.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k1 := newKey(t)
	kr, err := secrets.NewKeyring(k1)
	require.NoError(t, err)
	ad := secrets.ConnectorAD("c1", "password")

	s1, err := kr.Seal([]byte("hunter2"), ad)
	require.NoError(t, err)
	s2, err := kr.Seal([]byte("hunter2"), ad)
	require.NoError(t, err)
	require.NotEqual(t, s1.Ciphertext, s2.Ciphertext, "a random nonce per value")
	require.Equal(t, kr.PrimaryID(), s1.KeyID)
	require.NotContains(t, s1.Ciphertext, "hunter2")

	pt, err := kr.Open(s1, ad)
	require.NoError(t, err)
	require.Equal(t, "hunter2", string(pt))

	// Moved to another field or connector: does not open.
	_, err = kr.Open(s1, secrets.ConnectorAD("c1", "auth_token"))
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	_, err = kr.Open(s1, secrets.ConnectorAD("c2", "password"))
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	// Tampered.
	b := []byte(s1.Ciphertext)
	b[len(b)/2] ^= 1
	_, err = kr.Open(secrets.Sealed{KeyID: s1.KeyID, Ciphertext: string(b)}, ad)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	_, err = kr.Open(secrets.Sealed{KeyID: s1.KeyID, Ciphertext: "bm9wZQ=="}, ad)
	require.ErrorIs(t, err, secrets.ErrWrongKey)

	// A different key: fails loudly, naming the key ids.
	other, err := secrets.NewKeyring(newKey(t))
	require.NoError(t, err)
	_, err = other.Open(s1, ad)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	require.Contains(t, err.Error(), s1.KeyID)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newK := newKey(t), newKey(t)
	oldRing, err := secrets.NewKeyring(oldKey)
	require.NoError(t, err)
	ad := secrets.ConnectorAD("c1", "token")
	s, err := oldRing.Seal([]byte("v"), ad)
	require.NoError(t, err)

	ring, err := secrets.NewKeyring(newK, oldKey, oldKey)
	require.NoError(t, err)
	require.Len(t, ring.IDs(), 2, "duplicates ignored")
	require.True(t, ring.NeedsReseal(s))
	require.True(t, ring.Has(s.KeyID))
	pt, err := ring.Open(s, ad)
	require.NoError(t, err)
	s2, err := ring.Seal(pt, ad)
	require.NoError(t, err)
	require.False(t, ring.NeedsReseal(s2))
	require.Equal(t, secrets.KeyID(newK), s2.KeyID)

	_, err = secrets.NewKeyring([]byte("short"))
	require.ErrorContains(t, err, "32 bytes")
	_, err = secrets.NewKeyring(newK, []byte("short"))
	require.ErrorContains(t, err, "old key 1")
}

func TestTokens(t *testing.T) {
	t.Parallel()
	k1, k2 := newKey(t), newKey(t)
	ring1, err := secrets.NewKeyring(k1)
	require.NoError(t, err)
	tok1, err := ring1.Tokens("unsubscribe v1")
	require.NoError(t, err)
	payload := []byte("ws\x00email\x00ada@example.com")
	tok := tok1.Seal(payload)
	require.NotContains(t, tok, "ada")
	require.False(t, strings.ContainsAny(tok, "+/="), "URL-safe")
	got, err := tok1.Open(tok)
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, got))

	// Another purpose does not open it.
	other, err := ring1.Tokens("something else")
	require.NoError(t, err)
	_, err = other.Open(tok)
	require.ErrorIs(t, err, secrets.ErrBadToken)

	// After rotation, old tokens still open while the old key is configured.
	ring2, err := secrets.NewKeyring(k2, k1)
	require.NoError(t, err)
	tok2, err := ring2.Tokens("unsubscribe v1")
	require.NoError(t, err)
	got, err = tok2.Open(tok)
	require.NoError(t, err)
	require.Equal(t, payload, got)

	for _, bad := range []string{"", "x", tok[:len(tok)-2], tok + "A", strings.Repeat("A", 3000), "!!!"} {
		_, err := tok1.Open(bad)
		require.ErrorIs(t, err, secrets.ErrBadToken, bad)
	}
}
