package uitest

import (
	"context"
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const PlanV1 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait", "kind": "delay", "title": "Wait a day", "config": {"duration": "1d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hello"}]}`

// v2 replaces "wait" by "wait2d".
const PlanV2 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait2d", "kind": "delay", "title": "Wait two days", "config": {"duration": "2d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait2d"}, {"from": "wait2d", "to": "hello"}]}`

// parkRuns enters n profiles and runs their first task: they wait at "wait".
func (b *Bundle) ParkRuns(journeyID string, n int) []store.Run {
	b.T.Helper()
	var runs []store.Run
	for i := 0; i < n; i++ {
		p, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("p%d-%s", i, journeyID[:8])})
		require.NoError(b.T, err)
		r, err := b.Engine.Enter(b.Ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: journeyID, ProfileID: p.ID, Event: worker.EntryEvent{Name: "signup"}})
		require.NoError(b.T, err)
		runs = append(runs, r)
	}
	// One round: the entry tasks park the runs; their wake tasks are dropped
	// (the HTTP layer is under test here, not the clock).
	b.Tasks.Mu.Lock()
	ts := b.Tasks.Tasks
	b.Tasks.Tasks = nil
	b.Tasks.Mu.Unlock()
	for _, t := range ts {
		require.NoError(b.T, b.Engine.ProcessTask(context.Background(), t))
	}
	b.Tasks.Mu.Lock()
	b.Tasks.Tasks = nil
	b.Tasks.Mu.Unlock()
	for i, r := range runs {
		got, err := b.Store.GetRun(b.Ctx, r.ID)
		require.NoError(b.T, err)
		require.Equal(b.T, store.RunWaiting, got.Status)
		require.Equal(b.T, "wait", got.CurrentNode)
		runs[i] = got
	}
	return runs
}
