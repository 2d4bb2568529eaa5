package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestJourneyHooks(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Hooked", Draft: doc("Hooked")})
		require.NoError(t, err)
		require.NoError(t, b.store.SetJourneyHook(b.ctx, b.ws, j.ID, "wh_1", store.HookStandard, `{"s":1}`))
		require.ErrorIs(t, b.store.SetJourneyHook(b.ctx, b.ws, j.ID, "wh_2", store.HookStandard, `{"s":2}`), store.ErrConflict)
		require.ErrorIs(t, b.store.SetJourneyHook(b.ctx, "other", j.ID, "wh_3", store.HookStandard, `{}`), store.ErrNotFound)
		got, err := b.store.GetJourneyByHookKey(b.ctx, "wh_1")
		require.NoError(t, err)
		require.Equal(t, j.ID, got.ID)
		scheme, err := b.store.JourneyHookScheme(b.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, store.HookStandard, scheme)
		require.NoError(t, b.store.SetJourneyHookScheme(b.ctx, b.ws, j.ID, store.HookGitHub))
		require.ErrorIs(t, b.store.SetJourneyHookScheme(b.ctx, "other", j.ID, store.HookGitHub), store.ErrNotFound)
		scheme, err = b.store.JourneyHookScheme(b.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, store.HookGitHub, scheme)

		secs, err := b.store.ValidHookSecrets(b.ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, secs, 1)
		b.clock.Add(time.Second)
		require.NoError(t, b.store.RotateHookSecret(b.ctx, j.ID, `{"s":2}`, b.clock.Now().Add(time.Hour)))
		secs, err = b.store.ValidHookSecrets(b.ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, secs, 2)
		require.Equal(t, `{"s":2}`, secs[0].Sealed, "newest first")
		require.NotNil(t, secs[1].ExpiresAt)
		b.clock.Add(2 * time.Hour)
		secs, err = b.store.ValidHookSecrets(b.ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, secs, 1, "the old secret expired")

		// webhook-ids: first claim wins; the run id is remembered.
		first, err := b.store.ClaimWebhook(b.ctx, j.ID, "msg_1")
		require.NoError(t, err)
		require.Empty(t, first)
		require.NoError(t, b.store.SetWebhookRun(b.ctx, j.ID, "msg_1", "run-1"))
		first, err = b.store.ClaimWebhook(b.ctx, j.ID, "msg_1")
		require.ErrorIs(t, err, store.ErrConflict)
		require.Equal(t, "run-1", first)
		require.NoError(t, b.store.ReleaseWebhook(b.ctx, j.ID, "msg_1"), "a receipt with a run is kept")
		_, err = b.store.ClaimWebhook(b.ctx, j.ID, "msg_1")
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.ClaimWebhook(b.ctx, j.ID, "msg_2")
		require.NoError(t, err)
		require.NoError(t, b.store.ReleaseWebhook(b.ctx, j.ID, "msg_2"), "a failed request releases its id")
		_, err = b.store.ClaimWebhook(b.ctx, j.ID, "msg_2")
		require.NoError(t, err)

		var wg sync.WaitGroup
		wins := make(chan bool, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := b.store.ClaimWebhook(b.ctx, j.ID, "race")
				wins <- err == nil
			}()
		}
		wg.Wait()
		close(wins)
		n := 0
		for w := range wins {
			if w {
				n++
			}
		}
		require.Equal(t, 1, n)

		b.clock.Add(8 * 24 * time.Hour)
		deleted, err := b.store.DeleteWebhookReceiptsBefore(b.ctx, b.clock.Now().Add(-7*24*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 3, deleted)
	})
}
