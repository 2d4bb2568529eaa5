package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		rec, err := b.store.BeginIdempotent(b.ctx, b.ws, "k1", "h1", 24*time.Hour)
		require.NoError(t, err)
		require.Nil(t, rec, "the first request owns the key")
		rec, err = b.store.BeginIdempotent(b.ctx, b.ws, "k1", "h1", 24*time.Hour)
		require.NoError(t, err)
		require.NotNil(t, rec)
		require.Equal(t, "started", rec.State, "in flight")
		require.NoError(t, b.store.CompleteIdempotent(b.ctx, b.ws, "k1", 202, []byte(`{"ok":true}`)))
		rec, err = b.store.BeginIdempotent(b.ctx, b.ws, "k1", "h2", 24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, "done", rec.State)
		require.Equal(t, 202, rec.StatusCode)
		require.Equal(t, `{"ok":true}`, string(rec.Response))
		require.Equal(t, "h1", rec.RequestHash, "the caller compares hashes")
		// Another workspace has its own keys.
		rec, err = b.store.BeginIdempotent(b.ctx, "other", "k1", "h1", time.Hour)
		require.Error(t, err, "unknown workspace (foreign key)")
		require.Nil(t, rec)

		// A failed request releases its key.
		rec, err = b.store.BeginIdempotent(b.ctx, b.ws, "k2", "h", time.Hour)
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NoError(t, b.store.AbortIdempotent(b.ctx, b.ws, "k2"))
		rec, err = b.store.BeginIdempotent(b.ctx, b.ws, "k2", "h", time.Hour)
		require.NoError(t, err)
		require.Nil(t, rec)

		// Expired keys are taken over and cleaned.
		b.clock.Add(2 * time.Hour)
		rec, err = b.store.BeginIdempotent(b.ctx, b.ws, "k2", "h3", time.Hour)
		require.NoError(t, err)
		require.Nil(t, rec)
		b.clock.Add(25 * time.Hour)
		n, err := b.store.DeleteExpiredIdempotencyKeys(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)

		// Concurrent first requests: exactly one owns the key.
		var wg sync.WaitGroup
		owners := make(chan bool, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, err := b.store.BeginIdempotent(b.ctx, b.ws, "race", "h", time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				owners <- rec == nil
			}()
		}
		wg.Wait()
		close(owners)
		n2 := 0
		for o := range owners {
			if o {
				n2++
			}
		}
		require.Equal(t, 1, n2)
	})
}
