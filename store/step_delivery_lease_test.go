package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// A send whose run is already active and leased long enough (an entry's
// first task, leased by its entry) keeps that lease: on PostgreSQL the run's
// row is not rewritten (same xmin), only locked. A shorter lease, or a run
// that is not active, is moved to the send's lease as before.
func TestStepDeliveryKeepsALongEnoughLease(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := publishedFixture(t, b, "lease")
		t0 := b.clock.Now()
		delivery := func(r store.Run) store.Delivery {
			return store.Delivery{WorkspaceID: b.ws, RunID: r.ID, Sequence: r.Sequence, NodeID: "mail", ProfileID: r.ProfileID,
				IdempotencyKey: fmt.Sprintf("%s:%d", r.ID, r.Sequence), Connector: "sandbox", Channel: "send_email", Recipient: "a@example.com", Attempts: 1}
		}
		xmin := func(id string) string {
			var x string
			require.NoError(t, b.store.DB().Raw(`SELECT xmin::text FROM runs WHERE id = ?`, id).Row().Scan(&x))
			return x
		}
		entryLease := t0.Add(75 * time.Second)
		leased := parkedRun(t, b, f, "mail", store.RunActive, entryLease)
		short := parkedRun(t, b, f, "mail", store.RunActive, t0.Add(30*time.Second))
		waiting := parkedRun(t, b, f, "mail", store.RunWaiting, entryLease)
		b.clock.Add(5 * time.Second)
		lease := b.clock.Now().Add(75 * time.Second)

		var before string
		if b.store.Dialect() == store.DialectPostgres {
			before = xmin(leased.ID)
		}
		_, err := b.store.CreateStepDelivery(b.ctx, delivery(leased), lease)
		require.NoError(t, err)
		got := mustRun(t, b, leased.ID)
		require.Equal(t, store.RunActive, got.Status)
		require.False(t, got.NextDueAt.Before(lease.Add(-store.LeaseKept)), "leased long enough: %v", got.NextDueAt)
		if b.store.Dialect() == store.DialectPostgres {
			require.True(t, entryLease.Equal(*got.NextDueAt), "the entry's lease is kept")
			require.Equal(t, before, xmin(leased.ID), "the run's row is not rewritten")
		}
		_, err = b.store.GetDeliveryByKey(b.ctx, fmt.Sprintf("%s:%d", leased.ID, leased.Sequence))
		require.NoError(t, err)
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(leased), lease)
		require.ErrorIs(t, err, store.ErrConflict, "one delivery per step")

		for _, r := range []store.Run{short, waiting} {
			_, err := b.store.CreateStepDelivery(b.ctx, delivery(r), lease)
			require.NoError(t, err)
			got := mustRun(t, b, r.ID)
			require.Equal(t, store.RunActive, got.Status)
			require.True(t, lease.Equal(*got.NextDueAt), "moved to the send's lease")
		}
	})
}
