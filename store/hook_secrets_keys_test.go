package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// Key management sees every workspace's hook secrets that are valid now,
// named by journey, and swaps one only if it is unchanged.
func TestSealedHookSecretsForKeyManagement(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		none, err := b.store.ListSealedHookSecrets(b.ctx)
		require.NoError(t, err)
		require.Empty(t, none)

		_, err = b.store.EnsureWorkspace(b.ctx, "acme", "Acme")
		require.NoError(t, err)
		j1, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Hooked", Draft: doc("Hooked")})
		require.NoError(t, err)
		j2, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: "acme", Name: "Other", Draft: doc("Other")})
		require.NoError(t, err)
		require.NoError(t, b.store.SetJourneyHook(b.ctx, b.ws, j1.ID, "wh_1", store.HookStandard, `{"s":1}`))
		require.NoError(t, b.store.SetJourneyHook(b.ctx, "acme", j2.ID, "wh_2", store.HookStandard, `{"s":"other"}`))
		b.clock.Add(time.Second)
		require.NoError(t, b.store.RotateHookSecret(b.ctx, j1.ID, `{"s":2}`, b.clock.Now().Add(time.Hour)))

		all, err := b.store.ListSealedHookSecrets(b.ctx)
		require.NoError(t, err)
		require.Len(t, all, 3)
		byJourney := map[string][]string{}
		for _, h := range all {
			byJourney[h.JourneyID] = append(byJourney[h.JourneyID], h.Sealed)
			switch h.JourneyID {
			case j1.ID:
				require.Equal(t, "Hooked", h.JourneyName)
				require.Equal(t, b.ws, h.WorkspaceID)
			case j2.ID:
				require.Equal(t, "Other", h.JourneyName)
				require.Equal(t, "acme", h.WorkspaceID)
			}
		}
		require.Equal(t, []string{`{"s":1}`, `{"s":2}`}, byJourney[j1.ID], "oldest first")

		// Compare-and-swap.
		first := all[0]
		if first.JourneyID != j1.ID {
			first = all[1]
		}
		require.ErrorIs(t, b.store.ReplaceSealedHookSecret(b.ctx, first.ID, `{"s":"stale"}`, `{"s":"x"}`), store.ErrConflict)
		require.NoError(t, b.store.ReplaceSealedHookSecret(b.ctx, first.ID, first.Sealed, `{"s":"resealed"}`))
		require.ErrorIs(t, b.store.ReplaceSealedHookSecret(b.ctx, "nope", "", `{}`), store.ErrConflict)
		secs, err := b.store.ValidHookSecrets(b.ctx, j1.ID)
		require.NoError(t, err)
		require.Equal(t, `{"s":"resealed"}`, secs[1].Sealed)

		// Expired secrets are never opened again: not listed.
		b.clock.Add(2 * time.Hour)
		all, err = b.store.ListSealedHookSecrets(b.ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
	})
}
