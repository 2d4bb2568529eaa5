package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// parkedRun enters a run of f's journey and parks it at node (status).
func parkedRun(t *testing.T, b testBundle, f runFixture, node, status string, until time.Time) store.Run {
	t.Helper()
	r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
	require.NoError(t, err)
	started := b.clock.Now()
	require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID,
		ExpectSequence: r.Sequence, Status: status, CurrentNode: node, Sequence: r.Sequence + 1, Steps: 1, WaitUntil: &until, NextDueAt: &until,
		Ledger: []store.RunStep{{Sequence: r.Sequence, NodeID: "start", Kind: "trigger_event", Port: "out", Outcome: "entered", StartedAt: started, FinishedAt: started}}}))
	return mustRun(t, b, r.ID)
}

// publishedFixture is newRunFixture with version 1 of its journey live.
func publishedFixture(t *testing.T, b testBundle, ext string) runFixture {
	t.Helper()
	f := newRunFixture(t, b, ext)
	_, err := b.store.PublishJourney(b.ctx, b.ws, f.journey.ID, doc("v1"), "t")
	require.NoError(t, err)
	return f
}

func TestPublishWithMigration(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := publishedFixture(t, b, "mig")
		var err error
		t0 := b.clock.Now()
		move := parkedRun(t, b, f, "wait", store.RunWaiting, t0.Add(2*time.Hour))
		b.clock.Add(time.Minute)
		exit := parkedRun(t, b, f, "wait", store.RunWaiting, t0.Add(2*time.Hour))
		stale := parkedRun(t, b, f, "ask", store.RunWaitingEvent, t0.Add(time.Hour))
		b.clock.Add(10 * time.Minute)

		counts, err := b.store.CountVersionRuns(b.ctx, f.journey.ID, 1)
		require.NoError(t, err)
		require.Equal(t, []store.NodeRunCount{{NodeID: "ask", Status: store.RunWaitingEvent, Count: 1}, {NodeID: "wait", Status: store.RunWaiting, Count: 2}}, counts)

		cands, err := b.store.ListMigrationCandidates(b.ctx, f.journey.ID, 1, []string{"wait"}, "", 10)
		require.NoError(t, err)
		require.Len(t, cands, 2)
		byID := map[string]store.MigrationCandidate{}
		for _, c := range cands {
			byID[c.ID] = c
		}
		require.True(t, byID[move.ID].WaitingSince.Equal(t0), "waiting since the step that parked it: %s", byID[move.ID].WaitingSince)
		require.True(t, byID[exit.ID].WaitingSince.Equal(t0.Add(time.Minute)))

		wake := t0.Add(3 * time.Hour)
		now := b.clock.Now()
		plan := store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v2"), By: "t", ExpectLive: 1,
			Plan: map[string]any{"wait": map[string]any{"action": "move", "to": "wait3h"}}, TaskType: "run:advance",
			Audit: &store.AuditEntry{ActorType: "user", ActorID: "u1", Action: "journey.publish", TargetType: "journey", TargetID: f.journey.ID},
			Moves: []store.RunMigration{
				{RunID: move.ID, ExpectSequence: move.Sequence, ExpectStatus: store.RunWaiting, FromNode: "wait", ToNode: "wait3h",
					Status: store.RunWaiting, WaitUntil: &wake, NextDueAt: &wake, Detail: map[string]any{"waiting_since": t0.Format(time.RFC3339Nano)}},
				{RunID: exit.ID, ExpectSequence: exit.Sequence, ExpectStatus: store.RunWaiting, FromNode: "wait", Exit: true},
				// Planned at an older sequence: it moved on meanwhile.
				{RunID: stale.ID, ExpectSequence: stale.Sequence - 1, ExpectStatus: store.RunWaitingEvent, FromNode: "ask", Exit: true},
			}}

		// Planned against another live version: nothing is written.
		wrong := plan
		wrong.ExpectLive = 7
		_, err = b.store.PublishWithMigration(b.ctx, wrong)
		require.ErrorIs(t, err, store.ErrConflict)
		require.Equal(t, 1, mustRun(t, b, move.ID).Version)

		out, err := b.store.PublishWithMigration(b.ctx, plan)
		require.NoError(t, err)
		require.Equal(t, 2, out.Version.Version)
		require.Equal(t, 1, out.Moved)
		require.Equal(t, 1, out.Exited)
		require.Equal(t, []string{stale.ID}, out.Skipped)

		j, err := b.store.GetJourney(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		require.Equal(t, 2, j.LiveVersion)

		got := mustRun(t, b, move.ID)
		require.Equal(t, 2, got.Version)
		require.Equal(t, "wait3h", got.CurrentNode)
		require.Equal(t, store.RunWaiting, got.Status)
		require.Equal(t, move.Sequence+1, got.Sequence, "a new sequence: the queued task of the old one is a no-op")
		require.True(t, wake.Equal(*got.WaitUntil))
		steps, err := b.store.ListRunSteps(b.ctx, move.ID)
		require.NoError(t, err)
		last := steps[len(steps)-1]
		require.Equal(t, move.Sequence, last.Sequence)
		require.Equal(t, "wait", last.NodeID)
		require.Equal(t, store.OutcomeMigrated, last.Outcome)
		require.EqualValues(t, 2, last.Detail["to_version"])

		items, err := b.store.ListOutbox(b.ctx, now.Add(time.Hour), 100)
		require.NoError(t, err)
		var found bool
		for _, it := range items {
			if it.RunID == move.ID && it.Sequence == got.Sequence {
				found = true
				require.True(t, wake.Equal(it.ProcessAt))
			}
		}
		require.True(t, found, "the moved run's next task is in the outbox")

		ex := mustRun(t, b, exit.ID)
		require.Equal(t, store.RunExited, ex.Status)
		require.NotNil(t, ex.FinishedAt)
		require.Equal(t, 1, ex.Version)
		require.Equal(t, stale.Sequence, mustRun(t, b, stale.ID).Sequence, "skipped runs are untouched")

		// Migrated again, the candidate keeps its original wait start.
		cands, err = b.store.ListMigrationCandidates(b.ctx, f.journey.ID, 2, []string{"wait3h"}, "", 10)
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.True(t, cands[0].WaitingSince.Equal(t0), "%s", cands[0].WaitingSince)

		rec, err := b.store.GetJourneyPublish(b.ctx, f.journey.ID, 2)
		require.NoError(t, err)
		require.Equal(t, 1, rec.PreviousVersion)
		require.Equal(t, 1, rec.Moved)

		audit, err := b.store.ListAudit(b.ctx, b.ws, store.AuditFilter{Action: "journey.publish", TargetID: f.journey.ID})
		require.NoError(t, err)
		require.Len(t, audit, 1)
		require.EqualValues(t, 1, audit[0].Summary["moved"])
		require.EqualValues(t, 1, audit[0].Summary["exited"])
		require.EqualValues(t, 2, audit[0].Summary["version"])
	})
}

func TestPublishWithMigrationIsAtomic(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := publishedFixture(t, b, "atomic")
		var err error
		var moves []store.RunMigration
		var runs []store.Run
		for i := 0; i < 5; i++ {
			r := parkedRun(t, b, f, fmt.Sprintf("n%d", i), store.RunWaiting, b.clock.Now().Add(time.Hour))
			runs = append(runs, r)
			due := b.clock.Now()
			moves = append(moves, store.RunMigration{RunID: r.ID, ExpectSequence: r.Sequence, ExpectStatus: r.Status, FromNode: r.CurrentNode,
				ToNode: "x", Status: store.RunActive, NextDueAt: &due})
		}
		// The last move breaks a constraint: the whole publish rolls
		// back, the moves before it and the new version included.
		bad := append([]store.RunMigration(nil), moves...)
		bad[4].Status = "bogus"
		_, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v2"), ExpectLive: 1,
			Moves: bad, TaskType: "run:advance"})
		require.Error(t, err)
		for _, r := range runs {
			got := mustRun(t, b, r.ID)
			require.Equal(t, 1, got.Version)
			require.Equal(t, r.Sequence, got.Sequence)
		}
		j, err := b.store.GetJourney(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		require.Equal(t, 1, j.LiveVersion)

		_, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v2"), ExpectLive: 1,
			Moves: moves, TaskType: "run:advance"})
		require.NoError(t, err)
		for _, r := range runs {
			require.Equal(t, 2, mustRun(t, b, r.ID).Version)
		}
		// A second plan over version 1 conflicts: nothing moves twice.
		_, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v3"), ExpectLive: 1,
			Moves: moves, TaskType: "run:advance"})
		require.ErrorIs(t, err, store.ErrConflict)
		vs, err := b.store.ListJourneyVersions(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		require.Len(t, vs, 2)
	})
}

// A send and a migration serialize on the run row: a run whose send step
// wrote its delivery stays where it is, and a run a migration moved first
// gets no delivery for its old step (else the message could go out twice:
// once from the old step, once from the new one).
func TestStepDeliveryAndMigrationSerialize(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := publishedFixture(t, b, "race")
		var err error
		t0 := b.clock.Now()
		// Both runs were deferred at their send step by quiet hours.
		sending := parkedRun(t, b, f, "mail", store.RunWaiting, t0.Add(time.Minute))
		moved := parkedRun(t, b, f, "mail", store.RunWaiting, t0.Add(time.Minute))
		paused := parkedRun(t, b, f, "mail", store.RunPaused, t0.Add(time.Minute))
		delivery := func(r store.Run) store.Delivery {
			return store.Delivery{WorkspaceID: b.ws, RunID: r.ID, Sequence: r.Sequence, NodeID: "mail", ProfileID: r.ProfileID,
				IdempotencyKey: fmt.Sprintf("%s:%d", r.ID, r.Sequence), Connector: "sandbox", Channel: "send_email", Recipient: "a@example.com", Attempts: 1}
		}
		lease := t0.Add(75 * time.Second)

		// The send claims one run first: it becomes active until the lease.
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(sending), lease)
		require.NoError(t, err)
		got := mustRun(t, b, sending.ID)
		require.Equal(t, store.RunActive, got.Status)
		require.Equal(t, sending.Sequence, got.Sequence)
		require.True(t, lease.Equal(*got.NextDueAt))
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(sending), lease)
		require.ErrorIs(t, err, store.ErrConflict, "one delivery per step")
		// A paused run is not claimed (and not un-paused).
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(paused), lease)
		require.ErrorIs(t, err, store.ErrConflict)
		require.Equal(t, store.RunPaused, mustRun(t, b, paused.ID).Status)

		// Even planned as if still waiting (the planner read it before the
		// claim), the sending run is skipped; the other one moves.
		plan := store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v2"), By: "t", ExpectLive: 1, TaskType: "run:advance",
			Plan: map[string]any{"mail": map[string]any{"action": "move", "to": "mail2"}},
			Moves: []store.RunMigration{
				{RunID: sending.ID, ExpectSequence: sending.Sequence, ExpectStatus: store.RunWaiting, FromNode: "mail", ToNode: "mail2", Status: store.RunActive, NextDueAt: &t0},
				{RunID: moved.ID, ExpectSequence: moved.Sequence, ExpectStatus: store.RunWaiting, FromNode: "mail", ToNode: "mail2", Status: store.RunActive, NextDueAt: &t0},
			}}
		out, err := b.store.PublishWithMigration(b.ctx, plan)
		require.NoError(t, err)
		require.Equal(t, 1, out.Moved)
		require.Equal(t, []string{sending.ID}, out.Skipped)
		require.Equal(t, 1, mustRun(t, b, sending.ID).Version, "mid-send: stays on its version")

		// The moved run's old step can no longer write its delivery: the
		// task that was about to send finds the run gone from that step.
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(moved), lease)
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.store.GetDeliveryByKey(b.ctx, fmt.Sprintf("%s:%d", moved.ID, moved.Sequence))
		require.ErrorIs(t, err, store.ErrNotFound, "nothing written for the old step")

		// A paused run caught mid-send is not moved either.
		pausedMidSend := parkedRun(t, b, f, "mail", store.RunWaiting, t0.Add(time.Minute))
		_, err = b.store.CreateStepDelivery(b.ctx, delivery(pausedMidSend), lease)
		require.NoError(t, err)
		_, err = b.store.PauseJourneyRuns(b.ctx, f.journey.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunPaused, mustRun(t, b, pausedMidSend.ID).Status)
		out, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v3"), By: "t", ExpectLive: 2,
			TaskType: "run:advance", Plan: map[string]any{"mail": map[string]any{"action": "exit"}},
			Moves: []store.RunMigration{{RunID: pausedMidSend.ID, ExpectSequence: pausedMidSend.Sequence, ExpectStatus: store.RunPaused, FromNode: "mail", Exit: true}}})
		require.NoError(t, err)
		require.Equal(t, []string{pausedMidSend.ID}, out.Skipped)
		require.Equal(t, store.RunPaused, mustRun(t, b, pausedMidSend.ID).Status)
	})
}

// The draft revision a publish or rollback was planned from is checked
// under the journey's lock: a draft saved meanwhile is neither published
// unreviewed nor overwritten by a rollback.
func TestPublishChecksTheDraftRevision(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := publishedFixture(t, b, "rev")
		var err error
		planned, err := b.store.GetJourney(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		// An autosave lands after the plan was made.
		saved, err := b.store.UpdateDraft(b.ctx, b.ws, f.journey.ID, planned.DraftRevision, planned.Name, doc("edited"), "editor")
		require.NoError(t, err)

		_, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v2"), By: "t",
			ExpectLive: 1, TaskType: "run:advance", DraftRevision: planned.DraftRevision})
		require.ErrorIs(t, err, store.ErrConflict, "the saved draft was not the one reviewed")
		j, err := b.store.GetJourney(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		require.Equal(t, 1, j.LiveVersion, "nothing written")

		_, err = b.store.PublishWithMigration(b.ctx, store.PublishPlan{WorkspaceID: b.ws, JourneyID: f.journey.ID, Document: doc("v1"), By: "t",
			ExpectLive: 1, RollbackOf: 1, Draft: doc("restored"), TaskType: "run:advance", DraftRevision: planned.DraftRevision})
		require.NoError(t, err)
		j, err = b.store.GetJourney(b.ctx, b.ws, f.journey.ID)
		require.NoError(t, err)
		require.Equal(t, 2, j.LiveVersion, "the rollback went through")
		require.Equal(t, saved.DraftRevision, j.DraftRevision)
		require.JSONEq(t, string(doc("edited")), string(j.Draft), "the edits saved meanwhile are kept")
	})
}
