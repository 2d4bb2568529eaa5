package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestJourneyStats(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "s0")
		other := newRunFixture(t, b, "other")
		enter := func(ext string, version int) store.Run {
			p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: b.ws, ExternalID: ext})
			require.NoError(t, err)
			r, err := b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: version, ProfileID: p.ID,
				CurrentNode: "start"}, store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
			require.NoError(t, err)
			return r
		}
		now := b.clock.Now()
		step := func(seq int, node, port, outcome string) store.RunStep {
			return store.RunStep{Sequence: seq, NodeID: node, Kind: "k", Port: port, Outcome: outcome, StartedAt: now, FinishedAt: now}
		}
		// Three runs on version 1: one converted and completed, one
		// waiting at "wait", one failed at "send"; one run on version 2.
		for i := 0; i < 3; i++ {
			r := enter(fmt.Sprint("p", i), 1)
			u := store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: 1, Sequence: 3,
				Ledger: []store.RunStep{step(1, "start", "out", "entered"), step(2, "cond", []string{"yes", "no", "yes"}[i], "ok")}}
			switch i {
			case 0:
				u.Status, u.CurrentNode, u.Finished = store.RunCompleted, "cond", true
				u.Conversion = &store.Conversion{At: now, Value: 12.5, Path: "cond"}
			case 1:
				until := now.Add(time.Hour)
				u.Status, u.CurrentNode, u.WaitUntil, u.NextDueAt = store.RunWaiting, "wait", &until, &until
			case 2:
				u.Status, u.CurrentNode, u.Finished, u.Error = store.RunFailed, "send", true, "boom"
				u.Ledger = append(u.Ledger, step(3, "send", "", "skipped"))
				u.Sequence = 4
			}
			require.NoError(t, b.store.AdvanceRun(b.ctx, u))
		}
		enter("v2", 2)
		_, err := other.enter(b, store.EntryPolicy{})
		require.NoError(t, err)

		st, err := b.store.JourneyStats(b.ctx, b.ws, f.journey.ID, 1)
		require.NoError(t, err)
		require.Equal(t, []store.StepCount{
			{NodeID: "cond", Kind: "k", Port: "no", Outcome: "ok", Count: 1},
			{NodeID: "cond", Kind: "k", Port: "yes", Outcome: "ok", Count: 2},
			{NodeID: "send", Kind: "k", Port: "", Outcome: "skipped", Count: 1},
			{NodeID: "start", Kind: "k", Port: "out", Outcome: "entered", Count: 3},
		}, st.Steps)
		require.Equal(t, []store.PositionCount{
			{NodeID: "cond", Status: store.RunCompleted, Count: 1},
			{NodeID: "send", Status: store.RunFailed, Count: 1},
			{NodeID: "wait", Status: store.RunWaiting, Count: 1},
		}, st.Positions)
		require.Equal(t, int64(3), st.Totals.Entries)
		require.Equal(t, int64(1), st.Totals.Converted)
		require.InDelta(t, 12.5, st.Totals.Revenue, 1e-9)
		require.Equal(t, map[string]int64{store.RunCompleted: 1, store.RunFailed: 1, store.RunWaiting: 1}, st.Totals.ByStatus)

		all, err := b.store.JourneyStats(b.ctx, b.ws, f.journey.ID, 0)
		require.NoError(t, err)
		require.Equal(t, int64(4), all.Totals.Entries, "version 0: every version")
		require.Equal(t, int64(1), all.Totals.ByStatus[store.RunActive])

		none, err := b.store.JourneyStats(b.ctx, "elsewhere", f.journey.ID, 1)
		require.NoError(t, err)
		require.Zero(t, none.Totals.Entries, "another workspace sees nothing")
		require.Empty(t, none.Steps)
	})
}

func TestOpsSnapshot(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		empty, err := b.store.OpsSnapshot(b.ctx)
		require.NoError(t, err)
		require.Nil(t, empty.OldestOutbox)
		require.Zero(t, empty.OutboxItems)

		f := newRunFixture(t, b, "ops")
		written := b.clock.Now()
		r, err := f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)
		b.clock.Add(time.Minute)
		now := b.clock.Now()
		require.NoError(t, b.store.AdvanceRun(b.ctx, store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID,
			ExpectSequence: 1, Sequence: 3, Status: store.RunFailed, CurrentNode: "send", Finished: true, Ledger: []store.RunStep{
				{Sequence: 1, NodeID: "start", Kind: "trigger_event", Port: "out", Outcome: "entered", StartedAt: now, FinishedAt: now},
				{Sequence: 2, NodeID: "send", Kind: "send_email", Port: "failed", Outcome: "failed", StartedAt: now, FinishedAt: now}}}))
		_, err = f.enter(b, store.EntryPolicy{Reentry: "always"})
		require.NoError(t, err)

		snap, err := b.store.OpsSnapshot(b.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{store.RunFailed: 1, store.RunActive: 1}, snap.RunsByStatus)
		require.Equal(t, []store.KindOutcomeCount{{Kind: "send_email", Outcome: "failed", Count: 1}, {Kind: "trigger_event", Outcome: "entered", Count: 1}}, snap.Steps)
		require.Equal(t, int64(2), snap.OutboxItems)
		require.NotNil(t, snap.OldestOutbox)
		require.WithinDuration(t, written, *snap.OldestOutbox, time.Second)
	})
}
