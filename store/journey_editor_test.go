package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestCountJourneyEntries(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		db := b.store.DB()
		now := b.clock.Now()
		a, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "A", Draft: []byte(`{}`)})
		require.NoError(t, err)
		c, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "C", Draft: []byte(`{}`)})
		require.NoError(t, err)
		quiet, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Quiet", Draft: []byte(`{}`)})
		require.NoError(t, err)
		profile := store.NewID()
		require.NoError(t, db.Exec("INSERT INTO profiles (id, workspace_id, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
			profile, b.ws, "u1", now, now).Error)
		run := func(journey string, entered time.Time) {
			require.NoError(t, db.Exec("INSERT INTO runs (id, workspace_id, journey_id, version, profile_id, status, entered_at, updated_at) VALUES (?, ?, ?, 1, ?, 'completed', ?, ?)",
				store.NewID(), b.ws, journey, profile, entered, entered).Error)
		}
		run(a.ID, now.Add(-time.Hour))
		run(a.ID, now.Add(-6*24*time.Hour))
		run(a.ID, now.Add(-8*24*time.Hour)) // too old
		run(c.ID, now.Add(-time.Minute))

		got, err := b.store.CountJourneyEntries(b.ctx, b.ws, []string{a.ID, c.ID, quiet.ID}, now.Add(-7*24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, map[string]int64{a.ID: 2, c.ID: 1}, got)

		got, err = b.store.CountJourneyEntries(b.ctx, "other", []string{a.ID}, now.Add(-7*24*time.Hour))
		require.NoError(t, err)
		require.Empty(t, got, "another workspace sees nothing")
		got, err = b.store.CountJourneyEntries(b.ctx, b.ws, nil, now)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
