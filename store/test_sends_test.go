package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestTestSends(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "ts")
		a, err := b.store.CreateTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, NodeID: "hello", Kind: "send_email",
			Connector: "sandbox", Recipient: "me@example.com", Subject: "[Test] Hi", Body: "<p>hi</p>", Status: "delivered", SentBy: "me"})
		require.NoError(t, err)
		require.NotEmpty(t, a.ID)
		b.clock.Add(time.Second)
		_, err = b.store.CreateTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, NodeID: "sms", Kind: "send_sms",
			Connector: "twilio", Recipient: "+14155550123", Body: "[Test] hi", Status: "failed", Error: "bad number"})
		require.NoError(t, err)
		list, err := b.store.ListTestSends(b.ctx, b.ws, f.journey.ID, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "sms", list[0].NodeID, "newest first")
		require.Equal(t, "bad number", list[0].Error)
		require.Equal(t, "[Test] Hi", list[1].Subject)

		// Test sends are not deliveries: analytics never see them.
		ds, _, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, ds)
		other, err := b.store.ListTestSends(b.ctx, "elsewhere", f.journey.ID, 10)
		require.NoError(t, err)
		require.Empty(t, other)
	})
}
