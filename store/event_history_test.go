package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestEventHistory(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		day := 24 * time.Hour
		now := b.clock.Now()
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "hist"})
		require.NoError(t, err)
		other, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "other"})
		require.NoError(t, err)
		add := func(profileID, name string, at time.Time, props map[string]any) {
			t.Helper()
			_, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: profileID, Name: name, Properties: props, OccurredAt: at})
			require.NoError(t, err)
		}
		add(p.ID, "purchase", now.Add(-2*day), map[string]any{"total": 20.0})
		add(p.ID, "purchase", now.Add(-10*day), map[string]any{"total": 30.5, "items": 2.0})
		add(p.ID, "purchase", now.Add(-20*day), map[string]any{"total": "n/a"})
		add(p.ID, "purchase", now.Add(-25*day), map[string]any{"total": nil})
		add(p.ID, "purchase", now.Add(-60*day), map[string]any{"total": 100.0})
		add(p.ID, "purchase", now.Add(day), map[string]any{"total": 1000.0}) // after until: never counted
		add(p.ID, "login", now.Add(-500*day), nil)
		add(p.ID, "login", now.Add(-time.Hour), nil)
		add(p.ID, "zz_last_name", now.Add(-3*day), nil)
		add(other.ID, "purchase", now.Add(-time.Hour), map[string]any{"total": 7.0})

		count := func(name string, window time.Duration, limit int) int {
			t.Helper()
			n, err := b.store.CountProfileEvents(b.ctx, p.ID, name, now.Add(-window), now, limit)
			require.NoError(t, err)
			return n
		}
		require.Equal(t, 4, count("purchase", 30*day, 0))
		require.Equal(t, 1, count("purchase", 7*day, 0))
		require.Equal(t, 5, count("purchase", 400*day, 0))
		require.Equal(t, 2, count("purchase", 400*day, 2), "the count stops at its limit")
		require.Equal(t, 0, count("refund", 400*day, 0))
		require.Equal(t, 1, count("login", 400*day, 0))
		// The window includes its ends.
		require.Equal(t, 1, count("purchase", 2*day, 0))

		sum := func(prop string, window time.Duration, limit int) float64 {
			t.Helper()
			v, err := b.store.SumProfileEvents(b.ctx, p.ID, "purchase", prop, now.Add(-window), now, limit)
			require.NoError(t, err)
			return v
		}
		require.InDelta(t, 50.5, sum("total", 30*day, 0), 1e-9)
		require.InDelta(t, 150.5, sum("total", 90*day, 0), 1e-9)
		require.InDelta(t, 20.0, sum("total", 90*day, 1), 1e-9, "the latest event only")
		require.InDelta(t, 2.0, sum("items", 90*day, 0), 1e-9)
		require.InDelta(t, 0.0, sum("nope", 90*day, 0), 1e-9)
		v, err := b.store.SumProfileEvents(b.ctx, p.ID, "refund", "total", now.Add(-day), now, 0)
		require.NoError(t, err)
		require.Zero(t, v)

		last, err := b.store.LastProfileEvent(b.ctx, p.ID, "purchase", now)
		require.NoError(t, err)
		require.Equal(t, 20.0, last.Properties["total"])
		require.True(t, last.OccurredAt.Equal(now.Add(-2*day)), last.OccurredAt)
		last, err = b.store.LastProfileEvent(b.ctx, p.ID, "purchase", now.Add(2*day))
		require.NoError(t, err)
		require.Equal(t, 1000.0, last.Properties["total"], "until moves with the clock")
		_, err = b.store.LastProfileEvent(b.ctx, p.ID, "refund", now)
		require.ErrorIs(t, err, store.ErrNotFound)

		first, err := b.store.ProfileSeen(b.ctx, p.ID, now, true)
		require.NoError(t, err)
		require.True(t, first.Equal(now.Add(-500*day)), first)
		latest, err := b.store.ProfileSeen(b.ctx, p.ID, now, false)
		require.NoError(t, err)
		require.True(t, latest.Equal(now.Add(-time.Hour)), latest)
		latest, err = b.store.ProfileSeen(b.ctx, p.ID, now.Add(-30*day), false)
		require.NoError(t, err)
		require.True(t, latest.Equal(now.Add(-60*day)), latest)
		_, err = b.store.ProfileSeen(b.ctx, p.ID, now.Add(-600*day), true)
		require.ErrorIs(t, err, store.ErrNotFound)
		nobody, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "nobody"})
		require.NoError(t, err)
		_, err = b.store.ProfileSeen(b.ctx, nobody.ID, now, false)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestEventHistoryCountCap(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		now := b.clock.Now()
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "busy"})
		require.NoError(t, err)
		const n = 30
		for i := range n {
			_, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: p.ID, Name: "view",
				Properties: map[string]any{"n": 1.0}, OccurredAt: now.Add(-time.Duration(i) * time.Minute), IdempotencyKey: fmt.Sprint("v", i)})
			require.NoError(t, err)
		}
		for _, limit := range []int{1, 10, n} {
			c, err := b.store.CountProfileEvents(b.ctx, p.ID, "view", now.Add(-time.Hour), now, limit)
			require.NoError(t, err)
			require.Equal(t, limit, c)
			s, err := b.store.SumProfileEvents(b.ctx, p.ID, "view", "n", now.Add(-time.Hour), now, limit)
			require.NoError(t, err)
			require.InDelta(t, float64(limit), s, 1e-9)
		}
		// A limit past the cap, or none, is the cap.
		c, err := b.store.CountProfileEvents(b.ctx, p.ID, "view", now.Add(-time.Hour), now, store.MaxHistoryRows+1)
		require.NoError(t, err)
		require.Equal(t, n, c)
	})
}
