package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestEngagementQueries(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newAnalyticsFixture(t, b, 2, 0)
		stranger, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "stranger"})
		require.NoError(t, err)
		tz := "Asia/Tokyo"
		p0, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ap0", Timezone: &tz})
		require.NoError(t, err)
		base := b.clock.Now().Add(-48 * time.Hour)
		add := func(profileID, name string, at time.Time) {
			_, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: profileID, Name: name, OccurredAt: at})
			require.NoError(t, err)
		}
		add(p0.ID, "email_opened", base)
		add(p0.ID, "purchase", base.Add(time.Hour))
		add(p0.ID, "page_view", base.Add(2*time.Hour))         // not engagement
		add(p0.ID, "email_opened", base.Add(-30*24*time.Hour)) // too old
		add(f.runs[1].ProfileID, "email_clicked", base.Add(3*time.Hour))
		add(stranger.ID, "email_opened", base.Add(4*time.Hour)) // not an entrant
		names := []string{"email_opened", "email_clicked", "purchase"}

		got, err := b.store.ProfileEngagement(b.ctx, p0.ID, names, base.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.True(t, got[0].Equal(base.Add(time.Hour)), "newest first: %v", got)
		require.True(t, got[1].Equal(base))

		none, err := b.store.ProfileEngagement(b.ctx, p0.ID, nil, base, 0)
		require.NoError(t, err)
		require.Empty(t, none)

		seg, err := b.store.JourneyEngagement(b.ctx, f.journey.ID, names, base.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, seg, 3)
		require.True(t, seg[0].OccurredAt.Equal(base.Add(3*time.Hour)))
		require.Equal(t, "", seg[0].Timezone)
		require.Equal(t, tz, seg[2].Timezone)

		limited, err := b.store.JourneyEngagement(b.ctx, f.journey.ID, names, base.Add(-time.Hour), 1)
		require.NoError(t, err)
		require.Len(t, limited, 1)
	})
}
