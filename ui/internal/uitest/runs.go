package uitest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

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

// exportScenario: two runs of the explorer journey, one (profile "=1+1",
// a formula) sent a message, one ("bob") failed at "late" without one.
func ExportScenario(t *testing.T, b *Bundle) (jid string) {
	t.Helper()
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid = res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "=1+1", "properties": {"group": "x"}, "profile": {"email": "ada@example.com", "phone": "+15550001"}},
		{"name": "signed_up", "profile_id": "bob", "properties": {"group": "y"}, "profile": {"email": "bob@example.com"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine)
	return jid
}
