package ui_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const planV1 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait", "kind": "delay", "title": "Wait a day", "config": {"duration": "1d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hello"}]}`

// v2 replaces "wait" by "wait2d".
const planV2 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait2d", "kind": "delay", "title": "Wait two days", "config": {"duration": "2d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait2d"}, {"from": "wait2d", "to": "hello"}]}`

// parkRuns enters n profiles and runs their first task: they wait at "wait".
func (b *testBundle) parkRuns(journeyID string, n int) []store.Run {
	b.t.Helper()
	var runs []store.Run
	for i := 0; i < n; i++ {
		p, _, err := b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("p%d-%s", i, journeyID[:8])})
		require.NoError(b.t, err)
		r, err := b.engine.Enter(b.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: journeyID, ProfileID: p.ID, Event: worker.EntryEvent{Name: "signup"}})
		require.NoError(b.t, err)
		runs = append(runs, r)
	}
	// One round: the entry tasks park the runs; their wake tasks are dropped
	// (the HTTP layer is under test here, not the clock).
	b.tasks.mu.Lock()
	ts := b.tasks.tasks
	b.tasks.tasks = nil
	b.tasks.mu.Unlock()
	for _, t := range ts {
		require.NoError(b.t, b.engine.ProcessTask(context.Background(), t))
	}
	b.tasks.mu.Lock()
	b.tasks.tasks = nil
	b.tasks.mu.Unlock()
	for i, r := range runs {
		got, err := b.store.GetRun(b.ctx, r.ID)
		require.NoError(b.t, err)
		require.Equal(b.t, store.RunWaiting, got.Status)
		require.Equal(b.t, "wait", got.CurrentNode)
		runs[i] = got
	}
	return runs
}

func TestPublishPlanAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.call("POST", "/api/v1/journeys", key, []byte(planV1))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.status, "the old body (none) still publishes: %s", r.body)
	runs := b.parkRuns(id, 3)

	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(planV2))
	require.Equal(t, 200, r.status, string(r.body))

	// Deleted node with waiting runs, no plan: 422 naming the node.
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.status, string(r.body))
	e := r.json(t)["error"].(map[string]any)
	require.Equal(t, "invalid_migration_plan", e["code"])
	d := e["details"].([]any)[0].(map[string]any)
	require.Equal(t, "wait", d["node_id"])
	require.Contains(t, d["message"], "3 run(s) wait there")

	// Bad plans name what is wrong.
	for _, tc := range []struct{ body, node, field string }{
		{`{"plan": {"wait": {"action": "move", "to": "nope"}}}`, "wait", "plan.to"},
		{`{"plan": {"wait": {"action": "teleport"}}}`, "wait", "plan.action"},
		{`{"plan": {"ghost": {"action": "exit"}, "wait": {"action": "exit"}}}`, "ghost", "plan"},
		{`{"plan": {"wait": {"action": "move", "to": "start"}}}`, "wait", "plan.to"},
	} {
		r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(tc.body))
		require.Equal(t, 422, r.status, string(r.body))
		d := r.json(t)["error"].(map[string]any)["details"].([]any)[0].(map[string]any)
		require.Equal(t, tc.node, d["node_id"], string(r.body))
		require.Equal(t, tc.field, d["field"], string(r.body))
	}
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {"wait": "exit"}}`))
	require.Equal(t, 400, r.status, string(r.body))
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {}, "dryrun": true}`))
	require.Equal(t, 400, r.status, "with a plan the body is read strictly: %s", r.body)
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`[1]`))
	require.Equal(t, 400, r.status, string(r.body))

	// Dry run: counts, nothing changes.
	plan := `{"plan": {"wait": {"action": "move", "to": "wait2d"}}`
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(plan+`, "dry_run": true}`))
	require.Equal(t, 200, r.status, string(r.body))
	m := r.json(t)["migration"].(map[string]any)
	require.EqualValues(t, 3, m["move"])
	require.EqualValues(t, 1, m["from_version"])
	var line map[string]any
	for _, n := range m["nodes"].([]any) {
		if n.(map[string]any)["node_id"] == "wait" {
			line = n.(map[string]any)
		}
	}
	require.NotNil(t, line)
	require.EqualValues(t, 3, line["waiting"])
	require.Equal(t, true, line["deleted"])
	j, err := b.store.GetJourney(b.ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 1, j.LiveVersion)

	// Apply.
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(plan+`}`))
	require.Equal(t, 200, r.status, string(r.body))
	out := r.json(t)
	require.EqualValues(t, 2, out["version"])
	require.EqualValues(t, 3, out["migration"].(map[string]any)["moved"])
	for _, run := range runs {
		got, err := b.store.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, 2, got.Version)
		require.Equal(t, "wait2d", got.CurrentNode)
		require.True(t, got.WaitUntil.Equal(run.WaitUntil.Add(24*3600e9)), "2d from the same start: %s vs %s", got.WaitUntil, run.WaitUntil)
	}
	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.publish", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.EqualValues(t, 3, audit[0].Summary["moved"])
	require.Equal(t, "api_key", audit[0].ActorType)

	// Rollback: v3 restores v1's document, the runs move back to "wait".
	r = b.call("POST", "/api/v1/journeys/"+id+"/rollback", key, nil)
	require.Equal(t, 200, r.status, string(r.body))
	out = r.json(t)
	require.EqualValues(t, 3, out["version"])
	require.EqualValues(t, 3, out["migration"].(map[string]any)["moved"])
	for _, run := range runs {
		got, err := b.store.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, 3, got.Version)
		require.Equal(t, "wait", got.CurrentNode)
		require.True(t, got.WaitUntil.Equal(*run.WaitUntil), "back to the original wake time: %s vs %s", got.WaitUntil, run.WaitUntil)
	}
	r = b.call("GET", "/api/v1/journeys/"+id+"/versions/3", key, nil)
	require.Equal(t, 200, r.status)
	require.Contains(t, string(r.body), `"wait"`)
	r = b.call("GET", "/api/v1/journeys/"+id, key, nil)
	require.Contains(t, string(r.body), `"wait"`, "the draft, untouched since v2, holds the restored document")
	audit, err = b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.rollback", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.EqualValues(t, 2, audit[0].Summary["rollback_of"])
	require.EqualValues(t, 1, audit[0].Summary["restored_version"])

	// Rolling back again undoes the rollback (v4 = v2's document).
	r = b.call("POST", "/api/v1/journeys/"+id+"/rollback", key, nil)
	require.Equal(t, 200, r.status, string(r.body))
	got, err := b.store.GetRun(b.ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, "wait2d", got.CurrentNode)

	// Nothing to roll back for a journey published once.
	r = b.call("POST", "/api/v1/journeys", key, []byte(planV1))
	other := r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/journeys/"+other+"/rollback", key, nil)
	require.Equal(t, 409, r.status, string(r.body))
	b.call("POST", "/api/v1/journeys/"+other+"/publish", key, nil)
	r = b.call("POST", "/api/v1/journeys/"+other+"/rollback", key, nil)
	require.Equal(t, 409, r.status, string(r.body))
	require.Equal(t, "nothing_to_roll_back", r.json(t)["error"].(map[string]any)["code"])

	reader := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.call("POST", "/api/v1/journeys/"+id+"/rollback", reader, nil)
	require.Equal(t, 403, r.status)
}

func TestPublishPlanUI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.call("POST", "/api/v1/journeys", key, []byte(planV1))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.status)
	runs := b.parkRuns(id, 2)
	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(planV2))
	require.Equal(t, 200, r.status, string(r.body))
	rev := fmt.Sprint(r.json(t)["draft_revision"])

	b.createUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.client()
	csrf := c.login("ed@example.com", "correct horse battery")
	resp, html := c.get("/journeys/" + id + "/publish")
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="migration-plan"`)
	require.Contains(t, html, `data-node-id="wait"`)
	require.Contains(t, html, `name="plan.wait"`)
	require.Contains(t, html, `value="move:wait2d"`)
	require.Contains(t, html, `data-testid="node-deleted"`)

	// Publishing without choosing for the deleted step: 422, re-rendered.
	resp, html = c.postForm("/journeys/"+id+"/publish", url.Values{"_csrf": {csrf}, "revision": {rev}})
	require.Equal(t, 422, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="plan-problems"`)

	// Check the plan (dry run): totals, nothing published.
	resp, html = c.postForm("/journeys/"+id+"/publish?dry_run=1", url.Values{"_csrf": {csrf}, "revision": {rev}, "plan.wait": {"exit"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="plan-ok"`)
	require.Contains(t, html, "0 stay, 0 move, 2 exit")
	j, err := b.store.GetJourney(b.ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 1, j.LiveVersion)

	resp, html = c.postForm("/journeys/"+id+"/publish", url.Values{"_csrf": {csrf}, "revision": {rev}, "plan.wait": {"exit"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="publish-done"`)
	require.Contains(t, html, "2 exited")
	require.Contains(t, html, "roll back to v1")
	for _, run := range runs {
		got, err := b.store.GetRun(b.ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunExited, got.Status)
	}
	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.publish", TargetID: id})
	require.NoError(t, err)
	require.Equal(t, "user", audit[0].ActorType)
	require.EqualValues(t, 2, audit[0].Summary["exited"])

	resp, html = c.postForm("/journeys/"+id+"/rollback", url.Values{"_csrf": {csrf}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, "Rolled back")
	require.True(t, strings.Contains(html, "restores v1"), html)
	j, err = b.store.GetJourney(b.ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 3, j.LiveVersion)
}
