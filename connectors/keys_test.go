package connectors_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/store"
)

// hookedJourney creates a journey and its webhook trigger (the first
// signing secret, sealed with keys) and returns the journey and the secret.
func hookedJourney(t *testing.T, b *testBundle, keys *secrets.Keyring, name string) (store.Journey, string) {
	t.Helper()
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: name,
		Draft: []byte(`{"format":1,"name":"` + name + `","nodes":[{"id":"start","kind":"trigger_webhook","config":{"profile_id":"event.body.id"}}],"edges":[]}`)})
	require.NoError(t, err)
	h, err := hooks.New(b.store, keys, "https://waymark.example.com", nil).Get(b.ctx, b.ws, j.ID)
	require.NoError(t, err)
	require.Len(t, h.Secrets, 1)
	return j, h.Secrets[0]
}

// Security review F5: journey webhook secrets are sealed with the same key
// as connector secrets, so the key check and the rotation cover them.
func TestKeyCheckAndRotationCoverHookSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	j, secret := hookedJourney(t, b, b.keys, "Signup hook")
	reg, _ := builtin.NewRegistry()
	require.NoError(t, b.svc.CheckKeys(b.ctx))

	// A key that cannot open the hook secret fails the check, naming the
	// journey and the key ids, though no connector has a secret.
	newK := newKey(t)
	onlyNew, err := secrets.NewKeyring(newK)
	require.NoError(t, err)
	svc, err := connectors.NewService(b.store, onlyNew, reg, connectors.Options{})
	require.NoError(t, err)
	err = svc.CheckKeys(b.ctx)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	for _, want := range []string{"WAYMARK_SECRET_KEY", `journey "Signup hook"`, j.ID, secrets.KeyID(b.key), secrets.KeyID(newK)} {
		require.Contains(t, err.Error(), want)
	}
	_, err = connectors.RotateSecrets(b.ctx, b.store, onlyNew, false)
	require.ErrorIs(t, err, secrets.ErrWrongKey, "rotation cannot proceed without the old key")

	// Rotate: the hook secret is sealed again with the new key.
	both, err := secrets.NewKeyring(newK, b.key)
	require.NoError(t, err)
	rep, err := connectors.RotateSecrets(b.ctx, b.store, both, true)
	require.NoError(t, err)
	require.Equal(t, connectors.RotateReport{Journeys: 1, Resealed: 1}, rep)
	rep, err = connectors.RotateSecrets(b.ctx, b.store, both, false)
	require.NoError(t, err)
	require.Equal(t, connectors.RotateReport{Journeys: 1, Resealed: 1}, rep)
	rep, err = connectors.RotateSecrets(b.ctx, b.store, both, false)
	require.NoError(t, err)
	require.Equal(t, connectors.RotateReport{Journeys: 1, Current: 1}, rep, "idempotent")

	// The new key alone now opens everything, and the secret is unchanged
	// for senders.
	require.NoError(t, svc.CheckKeys(b.ctx))
	h, err := hooks.New(b.store, onlyNew, "https://waymark.example.com", nil).Get(b.ctx, b.ws, j.ID)
	require.NoError(t, err)
	require.Equal(t, []string{secret}, h.Secrets)
	require.Error(t, b.svc.CheckKeys(b.ctx), "the old key alone no longer opens it")
}

// Rotation opens everything before it writes anything: a value no key
// opens leaves every other value as it was.
func TestRotationChangesNothingWhenAValueDoesNotOpen(t *testing.T) {
	t.Parallel()
	b := setup(t, connectors.Options{})
	_, err := b.svc.Create(b.ctx, b.ws, connectors.Input{Type: "webhook", Name: "crm", Config: map[string]any{"url": "https://crm.example.com", "secret": whsec}})
	require.NoError(t, err)
	stranger, err := secrets.NewKeyring(newKey(t))
	require.NoError(t, err)
	hookedJourney(t, b, stranger, "Sealed elsewhere") // sealed with a key nobody configures

	newK := newKey(t)
	both, err := secrets.NewKeyring(newK, b.key)
	require.NoError(t, err)
	before, err := b.store.GetConnectorByName(b.ctx, b.ws, "crm")
	require.NoError(t, err)
	_, err = connectors.RotateSecrets(b.ctx, b.store, both, false)
	require.ErrorIs(t, err, secrets.ErrWrongKey)
	require.Contains(t, err.Error(), `journey "Sealed elsewhere"`)
	after, err := b.store.GetConnectorByName(b.ctx, b.ws, "crm")
	require.NoError(t, err)
	require.Equal(t, before.Secrets, after.Secrets, "the connector was not re-sealed")
}
