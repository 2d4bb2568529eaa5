package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestSuppressions(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		ok, err := b.store.IsSuppressed(b.ctx, b.ws, store.SuppressEmail, "ada@example.com")
		require.NoError(t, err)
		require.False(t, ok)

		s, err := b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: store.SuppressEmail, Address: "  Ada@Example.COM ", Reason: store.ReasonUnsubscribed, Source: "unsubscribe_link"})
		require.NoError(t, err)
		require.Equal(t, "ada@example.com", s.Address)
		require.Equal(t, store.ReasonUnsubscribed, s.Reason)

		// Checked case-insensitively; per channel; per workspace.
		ok, err = b.store.IsSuppressed(b.ctx, b.ws, store.SuppressEmail, "ADA@example.com")
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = b.store.IsSuppressed(b.ctx, b.ws, store.SuppressSMS, "ada@example.com")
		require.NoError(t, err)
		require.False(t, ok)
		_, err = b.store.EnsureWorkspace(b.ctx, "other", "Other")
		require.NoError(t, err)
		ok, err = b.store.IsSuppressed(b.ctx, "other", store.SuppressEmail, "ada@example.com")
		require.NoError(t, err)
		require.False(t, ok)

		// Adding again keeps the first entry.
		b.clock.Add(time.Hour)
		again, err := b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: store.SuppressEmail, Address: "ada@example.com", Reason: store.ReasonHardBounce})
		require.NoError(t, err)
		require.Equal(t, store.ReasonUnsubscribed, again.Reason)
		require.True(t, again.CreatedAt.Equal(s.CreatedAt))

		// Phone numbers are compared without formatting.
		_, err = b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: store.SuppressSMS, Address: "+1 (555) 010-0001", Reason: store.ReasonStop, Source: "sms"})
		require.NoError(t, err)
		ok, err = b.store.IsSuppressed(b.ctx, b.ws, store.SuppressSMS, "+15550100001")
		require.NoError(t, err)
		require.True(t, ok)
		_, err = b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: store.SuppressEmail, Address: "  ", Reason: store.ReasonManual})
		require.Error(t, err)

		for i := 0; i < 5; i++ {
			_, err := b.store.AddSuppression(b.ctx, store.Suppression{WorkspaceID: b.ws, Channel: store.SuppressEmail, Address: fmt.Sprintf("u%d@example.com", i), Reason: store.ReasonManual})
			require.NoError(t, err)
		}
		all, next, err := b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{})
		require.NoError(t, err)
		require.Len(t, all, 7)
		require.Empty(t, next)
		require.Equal(t, "ada@example.com", all[0].Address, "ordered by channel then address")
		require.Equal(t, store.SuppressSMS, all[6].Channel)
		page, next, err := b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{Limit: 4})
		require.NoError(t, err)
		require.Len(t, page, 4)
		rest, next2, err := b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{Limit: 4, After: next})
		require.NoError(t, err)
		require.Len(t, rest, 3)
		require.Empty(t, next2)
		require.Equal(t, "u3@example.com", rest[0].Address)
		sms, _, err := b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{Channel: store.SuppressSMS})
		require.NoError(t, err)
		require.Len(t, sms, 1)
		found, _, err := b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{Search: "U2@"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		_, _, err = b.store.ListSuppressions(b.ctx, b.ws, store.SuppressionFilter{After: "%%%"})
		require.Error(t, err)

		require.NoError(t, b.store.DeleteSuppression(b.ctx, b.ws, store.SuppressEmail, "ADA@example.com"))
		require.ErrorIs(t, b.store.DeleteSuppression(b.ctx, b.ws, store.SuppressEmail, "ada@example.com"), store.ErrNotFound)
		ok, err = b.store.IsSuppressed(b.ctx, b.ws, store.SuppressEmail, "ada@example.com")
		require.NoError(t, err)
		require.False(t, ok)
	})
}
