package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// Every profile write that changes something records the change in its
// own transaction, for attribute triggers.
func TestProfileChanges(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		s := func(v string) *string { return &v }
		changes := func(profileID string) []store.ProfileChange {
			t.Helper()
			cs, err := b.store.ListProfileChanges(b.ctx, profileID, 100)
			require.NoError(t, err)
			return cs
		}
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada", Email: s("ada@example.com"),
			Attributes: map[string]any{"plan": "trial", "score": 1.0}, Source: "api"})
		require.NoError(t, err)
		cs := changes(p.ID)
		require.Len(t, cs, 1, "creating a profile changes what it sets")
		require.Equal(t, "api", cs[0].Source)
		require.Equal(t, b.ws, cs[0].WorkspaceID)
		require.Equal(t, map[string]store.ValueChange{
			"email": {New: "ada@example.com"}, "plan": {New: "trial"}, "score": {New: 1.0},
		}, cs[0].Changes)

		// The same values again, and an attribute removed that was never
		// there: nothing changed, nothing recorded.
		_, _, err = b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada", Email: s("ada@example.com"),
			Attributes: map[string]any{"plan": "trial", "score": 1, "gone": nil}})
		require.NoError(t, err)
		require.Len(t, changes(p.ID), 1)

		_, _, err = b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "ada", Timezone: s("Europe/Paris"),
			Attributes: map[string]any{"plan": "pro", "score": nil}, Source: "import"})
		require.NoError(t, err)
		cs = changes(p.ID)
		require.Len(t, cs, 2)
		require.Equal(t, "import", cs[1].Source)
		require.Equal(t, map[string]store.ValueChange{
			"timezone": {New: "Europe/Paris"}, "plan": {Old: "trial", New: "pro"}, "score": {Old: 1.0},
		}, cs[1].Changes)

		// An update_profile step records its change with the step: the
		// journey, the run and the depth.
		f := newRunFixture(t, b, "runner")
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: f.profile.ID, ExpectSequence: 1,
			Status: store.RunActive, CurrentNode: "start", Sequence: 2, Steps: 1,
			ProfileFields: map[string]string{"timezone": "Asia/Tokyo", "email": "runner@example.com"}, ProfileAttributes: map[string]any{"level": 2},
			ChangeDepth: 2}))
		got, err := b.store.GetProfile(b.ctx, f.profile.ID)
		require.NoError(t, err)
		require.Equal(t, "Asia/Tokyo", got.Timezone)
		require.Equal(t, "runner@example.com", got.Email)
		require.Equal(t, 2.0, got.Attributes["level"])
		cs = changes(f.profile.ID)
		require.Len(t, cs, 1)
		require.Equal(t, store.ChangeSource{Source: "journey", JourneyID: r.JourneyID, RunID: r.ID, Depth: 2}, cs[0].ChangeSource)
		require.Equal(t, map[string]store.ValueChange{
			"timezone": {New: "Asia/Tokyo"}, "email": {New: "runner@example.com"}, "level": {New: 2.0},
		}, cs[0].Changes)

		// Stale changes, across profiles, oldest first; handled ones go.
		b.clock.Add(time.Minute)
		stale, err := b.store.ListStaleProfileChanges(b.ctx, b.clock.Now().Add(-30*time.Second), 100)
		require.NoError(t, err)
		require.Len(t, stale, 3)
		require.Less(t, stale[0].ID, stale[1].ID)
		none, err := b.store.ListStaleProfileChanges(b.ctx, b.clock.Now().Add(-2*time.Minute), 100)
		require.NoError(t, err)
		require.Empty(t, none)
		require.NoError(t, b.store.DeleteProfileChanges(b.ctx, []int64{stale[0].ID}))
		require.Len(t, changes(p.ID), 1)

		// Erasure takes the pending changes (they hold personal data).
		_, err = b.store.EraseProfile(b.ctx, b.ws, p.ID)
		require.NoError(t, err)
		require.Empty(t, changes(p.ID))
	})
}

// A webhook's one-commit entry (one statement on PostgreSQL, one
// transaction on SQLite) records the email and phone it changes, as the
// step-by-step path does.
func TestWebhookEntryRecordsChanges(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "hook")
		enter := func(webhookID string, email, phone *string) {
			t.Helper()
			w := store.WebhookEntry{WebhookID: webhookID, Profile: store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "wh", Email: email, Phone: phone},
				Policy: store.EntryPolicy{Reentry: "always"},
				Run:    store.Run{ID: store.NewID(), WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, CurrentNode: "start", EnteredAt: b.clock.Now()},
				First:  store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()}}
			require.True(t, b.store.CanEnterWebhook(w))
			_, err := b.store.EnterWebhook(b.ctx, w)
			require.NoError(t, err)
		}
		email, phone, other := "wh@example.com", "+33612345678", "new@example.com"
		enter("m1", &email, nil)
		enter("m2", &email, &phone) // the email is the same: only the phone changed
		enter("m3", &other, &phone)
		p, err := b.store.GetProfileByExternalID(b.ctx, b.ws, "wh")
		require.NoError(t, err)
		cs, err := b.store.ListProfileChanges(b.ctx, p.ID, 100)
		require.NoError(t, err)
		require.Len(t, cs, 3)
		require.Equal(t, "webhook", cs[0].Source)
		require.Equal(t, map[string]store.ValueChange{"email": {New: email}}, cs[0].Changes)
		require.Equal(t, map[string]store.ValueChange{"phone": {New: phone}}, cs[1].Changes)
		require.Equal(t, map[string]store.ValueChange{"email": {Old: email, New: other}}, cs[2].Changes)
	})
}
