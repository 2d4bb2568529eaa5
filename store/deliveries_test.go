package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestDeliveries(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		d, err := b.store.CreateDelivery(b.ctx, store.Delivery{
			WorkspaceID: b.ws, RunID: "r1", Sequence: 3, NodeID: "hello", IdempotencyKey: "r1:3",
			Connector: "sandbox", Channel: "send_email", Recipient: "ada@example.com", Subject: "Hi", Body: "<p>Hi</p>",
			Payload: json.RawMessage(`{"k":1}`),
		})
		require.NoError(t, err)
		require.Equal(t, store.DeliveryPending, d.Status)
		_, err = b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, IdempotencyKey: "r1:3", Channel: "send_email"})
		require.ErrorIs(t, err, store.ErrConflict, "one delivery per step")

		got, err := b.store.GetDeliveryByKey(b.ctx, "r1:3")
		require.NoError(t, err)
		require.Equal(t, d.ID, got.ID)
		require.JSONEq(t, `{"k":1}`, string(got.Payload))
		_, err = b.store.GetDeliveryByKey(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)

		b.clock.Add(time.Second)
		require.NoError(t, b.store.UpdateDelivery(b.ctx, d.ID, store.DeliveryUpdate{Status: store.DeliverySent, ProviderID: "p-1", Attempts: 1}))
		require.ErrorIs(t, b.store.UpdateDelivery(b.ctx, "nope", store.DeliveryUpdate{Status: store.DeliverySent}), store.ErrNotFound)
		got, err = b.store.GetDelivery(b.ctx, b.ws, d.ID)
		require.NoError(t, err)
		require.Equal(t, store.DeliverySent, got.Status)
		require.Equal(t, "p-1", got.ProviderID)
		require.Equal(t, 1, got.Attempts)
		require.True(t, got.UpdatedAt.After(got.CreatedAt))
		_, err = b.store.GetDelivery(b.ctx, "other", d.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		// CHECK constraint on status.
		require.Error(t, b.store.UpdateDelivery(b.ctx, d.ID, store.DeliveryUpdate{Status: "teleported"}))

		for i := 0; i < 4; i++ {
			conn := "sandbox"
			if i%2 == 1 {
				conn = "mail"
			}
			_, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: "r2", IdempotencyKey: fmt.Sprintf("r2:%d", i), Connector: conn, Channel: "send_email", IsTest: i == 3})
			require.NoError(t, err)
		}
		all, next, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{})
		require.NoError(t, err)
		require.Len(t, all, 5)
		require.Empty(t, next)
		require.Equal(t, "r2:3", all[0].IdempotencyKey, "newest first")
		require.True(t, all[0].IsTest)
		sandbox, _, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{Connector: "sandbox"})
		require.NoError(t, err)
		require.Len(t, sandbox, 3)
		byRun, _, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{RunID: "r1", Status: store.DeliverySent})
		require.NoError(t, err)
		require.Len(t, byRun, 1)
		page, next, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{Limit: 3})
		require.NoError(t, err)
		require.Len(t, page, 3)
		rest, next2, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{Limit: 3, After: next})
		require.NoError(t, err)
		require.Len(t, rest, 2)
		require.Empty(t, next2)
		none, _, err := b.store.ListDeliveries(b.ctx, "other", store.DeliveryFilter{})
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

// An attempt that lost the race for its step records its outcome without
// replacing a known one by an unknown one.
func TestSettleLateDelivery(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		mk := func(key string) store.Delivery {
			d, err := b.store.CreateDelivery(b.ctx, store.Delivery{WorkspaceID: b.ws, RunID: "r", IdempotencyKey: key, Channel: "send_email", Attempts: 1})
			require.NoError(t, err)
			return d
		}
		status := func(d store.Delivery) string {
			got, err := b.store.GetDelivery(b.ctx, b.ws, d.ID)
			require.NoError(t, err)
			return got.Status
		}
		sent := mk("r:1")
		require.NoError(t, b.store.UpdateDelivery(b.ctx, sent.ID, store.DeliveryUpdate{Status: store.DeliverySent}))
		require.NoError(t, b.store.SettleLateDelivery(b.ctx, sent.ID, store.DeliveryUpdate{Status: store.DeliveryUnknown, Error: "stopped mid-send"}))
		require.Equal(t, store.DeliverySent, status(sent), "a known send is not made unknown")

		unknown := mk("r:2")
		require.NoError(t, b.store.UpdateDelivery(b.ctx, unknown.ID, store.DeliveryUpdate{Status: store.DeliveryUnknown}))
		require.NoError(t, b.store.SettleLateDelivery(b.ctx, unknown.ID, store.DeliveryUpdate{Status: store.DeliverySent, ProviderID: "p-9"}))
		require.Equal(t, store.DeliverySent, status(unknown), "the attempt that sent knows better")

		pending := mk("r:3")
		require.NoError(t, b.store.SettleLateDelivery(b.ctx, pending.ID, store.DeliveryUpdate{Status: store.DeliveryPending, Error: "timeout"}))
		require.Equal(t, store.DeliveryPending, status(pending))
		require.NoError(t, b.store.UpdateDelivery(b.ctx, pending.ID, store.DeliveryUpdate{Status: store.DeliveryFailed, Error: "bounced"}))
		require.NoError(t, b.store.SettleLateDelivery(b.ctx, pending.ID, store.DeliveryUpdate{Status: store.DeliveryPending, Error: "late retry"}))
		require.Equal(t, store.DeliveryFailed, status(pending), "a settled delivery stays settled")
	})
}
