package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// A windowed key (a GitHub-scheme body hash) blocks within its window,
// has one winner under concurrency, and is claimable again after it.
func TestClaimWebhookWithin(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Hooked", Draft: doc("Hooked")})
		require.NoError(t, err)
		const key, window = "body:0123abcd", 24 * time.Hour

		var wg sync.WaitGroup
		errs := make(chan error, 30)
		for range 30 {
			wg.Go(func() {
				_, err := b.store.ClaimWebhookWithin(b.ctx, j.ID, key, window)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		n := 0
		for err := range errs {
			if err == nil {
				n++
				continue
			}
			require.ErrorIs(t, err, store.ErrConflict)
		}
		require.Equal(t, 1, n, "exactly one of 30 concurrent claims wins")
		require.NoError(t, b.store.SetWebhookRun(b.ctx, j.ID, key, "run-1"))

		b.clock.Add(window - time.Minute)
		first, err := b.store.ClaimWebhookWithin(b.ctx, j.ID, key, window)
		require.ErrorIs(t, err, store.ErrConflict, "within the window")
		require.Equal(t, "run-1", first)

		b.clock.Add(2 * time.Minute)
		first, err = b.store.ClaimWebhookWithin(b.ctx, j.ID, key, window)
		require.NoError(t, err, "the window has passed")
		require.Empty(t, first)
		_, err = b.store.ClaimWebhookWithin(b.ctx, j.ID, key, window)
		require.ErrorIs(t, err, store.ErrConflict, "the new receipt starts a new window")
	})
}
