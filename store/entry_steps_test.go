package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// An entry may carry the instant steps the engine walked before it
// commits (worker.walkEntry): the run enters where they left it, with
// their ledger and the task that takes it on, all in the entry's commit.
func TestEnterRunWithInstantSteps(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		now := b.clock.Now()
		steps := func(nodes ...string) []store.RunStep {
			out := make([]store.RunStep, len(nodes))
			for i, n := range nodes {
				out[i] = store.RunStep{Sequence: i + 1, NodeID: n, Kind: "condition", Port: "yes", Outcome: "ok",
					Detail: map[string]any{"value": true}, StartedAt: now, FinishedAt: now}
			}
			out[0].Kind, out[0].Port, out[0].Outcome, out[0].Detail = "trigger_event", "out", "entered", nil
			return out
		}
		first := store.OutboxItem{TaskType: "run:advance", ProcessAt: now}

		// Walked up to an action: the run stands at it, its task's outbox
		// item at the action's sequence.
		f := newRunFixture(t, b, "to-action")
		walked := store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID, Status: store.RunActive,
			CurrentNode: "mail", Sequence: 3, Steps: 2, EntryEvent: []byte(`{"name":"signup"}`), EnteredAt: now}
		r, err := b.store.EnterRun(b.ctx, walked, store.EntryPolicy{Reentry: "after_exit"}, first, steps("start", "check")...)
		require.NoError(t, err)
		got, err := b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunActive, got.Status)
		require.Equal(t, "mail", got.CurrentNode)
		require.Equal(t, 3, got.Sequence)
		require.Equal(t, 2, got.Steps)
		require.NotNil(t, got.NextDueAt)
		require.True(t, got.NextDueAt.Equal(now))
		require.Nil(t, got.FinishedAt)
		ledger, err := b.store.ListRunSteps(b.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, ledger, 2)
		require.Equal(t, "entered", ledger[0].Outcome)
		require.Equal(t, "check", ledger[1].NodeID)
		require.Equal(t, true, ledger[1].Detail["value"])
		items, err := b.store.ListOutbox(b.ctx, now, 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, r.ID, items[0].RunID)
		require.Equal(t, 3, items[0].Sequence, "the task takes the run on where the walk stopped")
		due, err := b.store.ListDueRuns(b.ctx, now, "", 10)
		require.NoError(t, err)
		require.Len(t, due, 1, "the reconciler finds it by next_due_at")
		require.Equal(t, 3, due[0].Sequence)
		// It holds the profile's active-run slot.
		_, err = b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID, CurrentNode: "start"},
			store.EntryPolicy{Reentry: "after_exit"}, first)
		var refused *store.EntryRefusedError
		require.ErrorAs(t, err, &refused)
		require.NoError(t, b.store.DeleteOutboxFor(b.ctx, r.ID, 3, "run:advance"))

		// Finished by its instant steps: final, no task, and the slot is
		// released in the same commit (after_exit lets it in again).
		f = newRunFixture(t, b, "finished")
		done := store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID, Status: store.RunCompleted,
			CurrentNode: "bye", Sequence: 4, Steps: 3, EntryEvent: []byte(`{"name":"signup"}`), EnteredAt: now}
		r, err = b.store.EnterRun(b.ctx, done, store.EntryPolicy{Reentry: "after_exit"}, first, steps("start", "check", "bye")...)
		require.NoError(t, err)
		require.True(t, r.Final())
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunCompleted, got.Status)
		require.Equal(t, 4, got.Sequence)
		require.NotNil(t, got.FinishedAt)
		require.Nil(t, got.NextDueAt)
		items, err = b.store.ListOutbox(b.ctx, now.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Empty(t, items, "a finished run needs no task")
		ledger, err = b.store.ListRunSteps(b.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, ledger, 3)
		again, err := b.store.EnterRun(b.ctx, done, store.EntryPolicy{Reentry: "after_exit"}, first, steps("start", "check", "bye")...)
		require.NoError(t, err, "the finished run left the profile free to enter again")
		require.NotEqual(t, r.ID, again.ID)

		// Parked by a delay at entry: waiting, due at the wake time.
		f = newRunFixture(t, b, "parked")
		wake := now.Add(time.Hour)
		parked := store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID, Status: store.RunWaiting,
			CurrentNode: "wait", Sequence: 2, Steps: 1, WaitUntil: &wake, EnteredAt: now}
		r, err = b.store.EnterRun(b.ctx, parked, store.EntryPolicy{}, store.OutboxItem{TaskType: "run:advance", ProcessAt: wake}, steps("start")...)
		require.NoError(t, err)
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunWaiting, got.Status)
		require.True(t, got.WaitUntil.Equal(wake))
		require.True(t, got.NextDueAt.Equal(wake))
		items, err = b.store.ListOutbox(b.ctx, now, 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, 2, items[0].Sequence)
		require.True(t, items[0].ProcessAt.Equal(wake))

		// A first task that runs in the entry's own process: the run is due
		// (for the reconciler) and its outbox item visible (to the relay)
		// only once the lease is over.
		lease := now.Add(75 * time.Second)
		for i, enter := range []func(store.Run, store.OutboxItem) (store.Run, error){
			func(r store.Run, o store.OutboxItem) (store.Run, error) {
				return b.store.EnterRun(b.ctx, r, store.EntryPolicy{}, o, steps("start", "check")...)
			},
			func(r store.Run, o store.OutboxItem) (store.Run, error) {
				return b.store.EnterWebhook(b.ctx, store.WebhookEntry{WebhookID: "msg_lease", Profile: store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "leased"},
					Run: r, Policy: store.EntryPolicy{}, First: o, Steps: steps("start", "check")})
			},
		} {
			f = newRunFixture(t, b, fmt.Sprintf("lease-%d", i))
			leased := store.Run{ID: store.NewID(), WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID, Status: store.RunActive,
				CurrentNode: "mail", Sequence: 3, Steps: 2, NextDueAt: &lease, EnteredAt: now}
			r, err = enter(leased, store.OutboxItem{TaskType: "run:advance", ProcessAt: now, VisibleAt: lease})
			require.NoError(t, err)
			got, err = b.store.GetRun(b.ctx, r.ID)
			require.NoError(t, err)
			require.True(t, got.NextDueAt.Equal(lease), "next_due_at %s", got.NextDueAt)
			visible, err := b.store.ListOutbox(b.ctx, now.Add(time.Minute), 10)
			require.NoError(t, err)
			for _, it := range visible {
				require.NotEqual(t, r.ID, it.RunID, "hidden from the relay during the lease")
			}
			items, err = b.store.ListOutbox(b.ctx, lease, 10)
			require.NoError(t, err)
			var mine []store.OutboxItem
			for _, it := range items {
				if it.RunID == r.ID {
					mine = append(mine, it)
				}
			}
			require.Len(t, mine, 1)
			require.Equal(t, 3, mine[0].Sequence)
			require.True(t, mine[0].ProcessAt.Equal(now))
			require.NoError(t, b.store.DeleteOutboxFor(b.ctx, r.ID, 3, "run:advance"))
		}

		// Finished by its instant steps, through the webhook's one-commit entry.
		f = newRunFixture(t, b, "hook")
		w := store.WebhookEntry{WebhookID: "msg_walk", Profile: store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: "hooked"},
			Run: store.Run{ID: store.NewID(), WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, Status: store.RunCompleted,
				CurrentNode: "bye", Sequence: 4, Steps: 3, EntryEvent: []byte(`{"body":{}}`), EnteredAt: now},
			Policy: store.EntryPolicy{Reentry: "after_exit"}, First: first, Steps: steps("start", "check", "bye")}
		r, err = b.store.EnterWebhook(b.ctx, w)
		require.NoError(t, err)
		got, err = b.store.GetRun(b.ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunCompleted, got.Status)
		require.NotNil(t, got.FinishedAt)
		ledger, err = b.store.ListRunSteps(b.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, ledger, 3)
		items, err = b.store.ListOutbox(b.ctx, now.Add(2*time.Hour), 10)
		require.NoError(t, err)
		for _, it := range items {
			require.NotEqual(t, r.ID, it.RunID, "a finished run needs no task")
		}
		w.WebhookID, w.Run.ID = "msg_walk_2", store.NewID()
		_, err = b.store.EnterWebhook(b.ctx, w)
		require.NoError(t, err, "the finished run left the profile free to enter again")
	})
}
