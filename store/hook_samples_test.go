package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestHookSamples(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Hooked", Draft: doc("Hooked")})
		require.NoError(t, err)
		other, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: b.ws, Name: "Other", Draft: doc("Other")})
		require.NoError(t, err)

		until, err := b.store.HookListenUntil(b.ctx, j.ID)
		require.NoError(t, err)
		require.True(t, until.IsZero(), "nobody listened yet")
		require.NoError(t, b.store.ListenHook(b.ctx, j.ID, b.clock.Now().Add(2*time.Minute)))
		require.NoError(t, b.store.ListenHook(b.ctx, j.ID, b.clock.Now().Add(3*time.Minute)), "a second listener")
		until, err = b.store.HookListenUntil(b.ctx, j.ID)
		require.NoError(t, err)
		require.True(t, until.Equal(b.clock.Now().Add(3*time.Minute)), "%s", until)

		start := b.clock.Now()
		old, err := b.store.AddHookSample(b.ctx, store.HookSample{JourneyID: other.ID, Status: 202, Verified: true, Body: `{"a":1}`, BodySize: 7}, 3, start.Add(-time.Hour))
		require.NoError(t, err)
		for i := range 5 {
			b.clock.Add(time.Second)
			_, err := b.store.AddHookSample(b.ctx, store.HookSample{JourneyID: j.ID, Status: 409, Code: "journey_not_live", Message: "draft",
				Verified: true, Body: fmt.Sprintf(`{"i":%d}`, i), BodySize: 7}, 3, b.clock.Now().Add(-time.Hour))
			require.NoError(t, err)
		}
		got, err := b.store.HookSamples(b.ctx, j.ID, start, 10)
		require.NoError(t, err)
		require.Len(t, got, 3, "the newest 3 are kept")
		require.Equal(t, `{"i":4}`, got[0].Body, "newest first")
		require.Equal(t, `{"i":2}`, got[2].Body)
		require.Equal(t, 409, got[0].Status)
		require.Equal(t, "journey_not_live", got[0].Code)
		require.True(t, got[0].Verified)
		got, err = b.store.HookSamples(b.ctx, j.ID, b.clock.Now(), 10)
		require.NoError(t, err)
		require.Len(t, got, 1, "since is inclusive")

		// An hour later, any capture drops every journey's old samples.
		b.clock.Add(time.Hour + time.Minute)
		_, err = b.store.AddHookSample(b.ctx, store.HookSample{JourneyID: j.ID, Status: 401, Code: "bad_signature"}, 3, b.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		got, err = b.store.HookSamples(b.ctx, other.ID, time.Time{}, 10)
		require.NoError(t, err)
		require.Empty(t, got, "sample %s expired", old.ID)
		got, err = b.store.HookSamples(b.ctx, j.ID, time.Time{}, 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.False(t, got[0].Verified)
		require.Empty(t, got[0].Body)
	})
}

func TestRecentEventNames(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		names, err := b.store.RecentEventNames(b.ctx, b.ws, 10)
		require.NoError(t, err)
		require.Empty(t, names)

		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "u1"})
		require.NoError(t, err)
		_, err = b.store.EnsureWorkspace(b.ctx, "ws2", "Second")
		require.NoError(t, err)
		p2, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: "ws2", ExternalID: "u1"})
		require.NoError(t, err)
		send := func(ws, profileID, name string) {
			b.clock.Add(time.Minute)
			_, err := b.store.InsertEvent(b.ctx, store.Event{WorkspaceID: ws, ProfileID: profileID, Name: name})
			require.NoError(t, err)
		}
		send(b.ws, p.ID, "signed_up")
		for range 3 {
			send(b.ws, p.ID, "page_viewed")
		}
		send(b.ws, p.ID, "cart_abandoned")
		send(b.ws, p.ID, "page_viewed")
		send("ws2", p2.ID, "other_workspace")

		names, err = b.store.RecentEventNames(b.ctx, b.ws, 10)
		require.NoError(t, err)
		require.Len(t, names, 3, "each name once, this workspace's only")
		require.Equal(t, "page_viewed", names[0].Name, "most recently seen first")
		require.Equal(t, "cart_abandoned", names[1].Name)
		require.Equal(t, "signed_up", names[2].Name)
		require.True(t, names[0].LastSeen.Equal(b.clock.Now().Add(-time.Minute)), "%s", names[0].LastSeen)
		names, err = b.store.RecentEventNames(b.ctx, b.ws, 2)
		require.NoError(t, err)
		require.Len(t, names, 2)
	})
}
