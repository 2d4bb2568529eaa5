package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// An anonymous profile merges into an identified one: the identified
// profile's values win, history and runs move, per-journey entries add up,
// the anonymous id becomes an alias; merging again (or at once from
// several callers) changes nothing more.
func TestMergeProfiles(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		s := func(v string) *string { return &v }
		anon, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "anonymous:a1",
			Email: s("anon@example.com"), Locale: s("fr-FR"), Attributes: map[string]any{"plan": "trial", "referrer": "ad"},
			Consent: map[string]string{"email": "granted", "sms": "denied"}, Source: "segment"})
		require.NoError(t, err)
		user, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "u1",
			Email: s("user@example.com"), Attributes: map[string]any{"plan": "pro"}, Consent: map[string]string{"email": "unsubscribed"}})
		require.NoError(t, err)
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: anon.ID, Name: "viewed", IdempotencyKey: "segment:m1"})
		require.NoError(t, err)

		// Journey "both": both profiles are in it; journey "anon": only the
		// anonymous one.
		both := newRunFixture(t, b, "both-fixture")
		both.profile = anon
		anonRun, err := both.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		both.profile = user
		userRun, err := both.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		only := newRunFixture(t, b, "only-fixture")
		only.profile = anon
		onlyRun, err := only.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)

		_, ok, err := b.store.AliasedProfile(b.ctx, b.ws, "a1")
		require.NoError(t, err)
		require.False(t, ok)

		m := store.ProfileMerge{WorkspaceID: b.ws, AnonymousID: "a1", From: "anonymous:a1", Into: "u1"}
		var wg sync.WaitGroup
		results := make([]store.MergeResult, 3)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := b.store.MergeProfiles(b.ctx, m)
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		merged := 0
		for _, r := range results {
			if r.Merged {
				merged++
				require.Equal(t, int64(1), r.Events)
				require.Equal(t, int64(2), r.Runs)
			}
		}
		require.Equal(t, 1, merged, "one of the concurrent merges moved everything; the others found nothing left")

		got, err := b.store.GetProfile(b.ctx, user.ID)
		require.NoError(t, err)
		require.Equal(t, "user@example.com", got.Email, "the identified profile's email wins")
		require.Equal(t, "fr-FR", got.Locale, "an empty field is filled")
		require.Equal(t, map[string]any{"plan": "pro", "referrer": "ad"}, got.Attributes)
		require.Equal(t, "unsubscribed", got.Consent["email"].(map[string]any)["status"], "the identified profile's consent wins")
		require.Equal(t, "denied", got.Consent["sms"].(map[string]any)["status"])

		evs, err := b.store.ListProfileEvents(b.ctx, user.ID, "viewed", time.Time{}, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		for _, id := range []string{anonRun.ID, userRun.ID, onlyRun.ID} {
			r, err := b.store.GetRun(b.ctx, id)
			require.NoError(t, err)
			require.Equal(t, user.ID, r.ProfileID)
		}
		emptied, err := b.store.GetProfile(b.ctx, anon.ID)
		require.NoError(t, err)
		require.Empty(t, emptied.Attributes)
		require.Empty(t, emptied.Email)
		ext, ok, err := b.store.AliasedProfile(b.ctx, b.ws, "a1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "u1", ext)

		// Entries add up per journey: a re-entry rule of "never" now sees
		// the identified profile as having entered both journeys.
		var refused *store.EntryRefusedError
		_, err = both.enter(b, store.EntryPolicy{Reentry: "never"})
		require.ErrorAs(t, err, &refused)
		only.profile = user
		_, err = only.enter(b, store.EntryPolicy{Reentry: "never"})
		require.ErrorAs(t, err, &refused)

		// The merged-in change is in the identified profile's history.
		cs, err := b.store.ListProfileChanges(b.ctx, user.ID, 100)
		require.NoError(t, err)
		var sources []string
		for _, c := range cs {
			sources = append(sources, c.Source)
		}
		require.Contains(t, sources, "merge")

		// A late event on the anonymous profile is swept by the next merge.
		_, err = b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: b.ws, ProfileID: anon.ID, Name: "viewed"})
		require.NoError(t, err)
		r, err := b.store.MergeProfiles(b.ctx, m)
		require.NoError(t, err)
		require.Equal(t, int64(1), r.Events)
		require.Equal(t, int64(0), r.Fields)

		// An anonymous id never seen before only becomes an alias; the
		// identified profile is created when new.
		r, err = b.store.MergeProfiles(b.ctx, store.ProfileMerge{WorkspaceID: b.ws, AnonymousID: "a2", From: "anonymous:a2", Into: "u2"})
		require.NoError(t, err)
		require.False(t, r.Merged)
		require.Equal(t, "u2", r.Profile.ExternalID)
		ext, ok, err = b.store.AliasedProfile(b.ctx, b.ws, "a2")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "u2", ext)
		_, ok, err = b.store.AliasedProfile(b.ctx, "other-ws", "a2")
		require.NoError(t, err)
		require.False(t, ok, "aliases belong to their workspace")

		// An erased profile is no alias any more.
		erased, err := b.store.EraseProfile(b.ctx, b.ws, r.Profile.ID)
		require.NoError(t, err)
		require.True(t, erased)
		_, ok, err = b.store.AliasedProfile(b.ctx, b.ws, "a2")
		require.NoError(t, err)
		require.False(t, ok, "nothing new lands on an erased profile")
	})
}
