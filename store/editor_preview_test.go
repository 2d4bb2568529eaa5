package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// TestRecentProfiles: the newest profiles first, bounded, per workspace
// (the editor's preview checks, ui/web/preview_check.go).
func TestRecentProfiles(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		for i := range 5 {
			_, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: fmt.Sprint("rp", i)})
			require.NoError(t, err)
			b.clock.Add(time.Millisecond)
		}
		ps, err := b.store.RecentProfiles(b.ctx, b.ws, 3)
		require.NoError(t, err)
		require.Len(t, ps, 3)
		require.Equal(t, []string{"rp4", "rp3", "rp2"}, []string{ps[0].ExternalID, ps[1].ExternalID, ps[2].ExternalID})
		other, err := b.store.RecentProfiles(b.ctx, "elsewhere", 3)
		require.NoError(t, err)
		require.Empty(t, other)
	})
}

// TestConnectorTestSends: the Test inbox's test sends, by connector, since
// a time, newest first; one by id within its workspace.
func TestConnectorTestSends(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "cts")
		start := b.clock.Now()
		var ids []string
		for i, conn := range []string{"sandbox", "smtp", "sandbox"} {
			ts, err := b.store.CreateTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, NodeID: "hello", Kind: "send_email",
				Connector: conn, Recipient: "me@example.com", Subject: fmt.Sprint("[Test] ", i), Status: "delivered"})
			require.NoError(t, err)
			ids = append(ids, ts.ID)
			b.clock.Add(time.Second)
		}
		list, err := b.store.ListConnectorTestSends(b.ctx, b.ws, "sandbox", time.Time{}, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "[Test] 2", list[0].Subject, "newest first")
		list, err = b.store.ListConnectorTestSends(b.ctx, b.ws, "sandbox", start.Add(time.Second), 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
		got, err := b.store.GetTestSend(b.ctx, b.ws, ids[1])
		require.NoError(t, err)
		require.Equal(t, "smtp", got.Connector)
		_, err = b.store.GetTestSend(b.ctx, "elsewhere", ids[1])
		require.True(t, errors.Is(err, store.ErrNotFound))
	})
}
