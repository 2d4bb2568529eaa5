package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestPublishPlanAPI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, "the old body (none) still publishes: %s", r.Body)
	runs := b.ParkRuns(id, 3)

	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))

	// Deleted node with waiting runs, no plan: 422 naming the node.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.Status, string(r.Body))
	e := r.JSON(t)["error"].(map[string]any)
	require.Equal(t, "invalid_migration_plan", e["code"])
	d := e["details"].([]any)[0].(map[string]any)
	require.Equal(t, "wait", d["node_id"])
	require.Contains(t, d["message"], "3 run(s) wait there")
	require.Contains(t, d["message"], `the step "Wait a day" (wait) is deleted`, "the step by its title")

	// Bad plans name what is wrong.
	for _, tc := range []struct{ body, node, field string }{
		{`{"plan": {"wait": {"action": "move", "to": "nope"}}}`, "wait", "plan.to"},
		{`{"plan": {"wait": {"action": "teleport"}}}`, "wait", "plan.action"},
		{`{"plan": {"ghost": {"action": "exit"}, "wait": {"action": "exit"}}}`, "ghost", "plan"},
		{`{"plan": {"wait": {"action": "move", "to": "start"}}}`, "wait", "plan.to"},
	} {
		r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(tc.body))
		require.Equal(t, 422, r.Status, string(r.Body))
		d := r.JSON(t)["error"].(map[string]any)["details"].([]any)[0].(map[string]any)
		require.Equal(t, tc.node, d["node_id"], string(r.Body))
		require.Equal(t, tc.field, d["field"], string(r.Body))
	}
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {"wait": "exit"}}`))
	require.Equal(t, 400, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {}, "dryrun": true}`))
	require.Equal(t, 400, r.Status, "with a plan the body is read strictly: %s", r.Body)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`[1]`))
	require.Equal(t, 400, r.Status, string(r.Body))

	// Dry run: counts, nothing changes.
	plan := `{"plan": {"wait": {"action": "move", "to": "wait2d"}}`
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(plan+`, "dry_run": true}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	m := r.JSON(t)["migration"].(map[string]any)
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
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 1, j.LiveVersion)

	// Apply.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(plan+`}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	out := r.JSON(t)
	require.EqualValues(t, 2, out["version"])
	require.EqualValues(t, 3, out["migration"].(map[string]any)["moved"])
	for _, run := range runs {
		got, err := b.Store.GetRun(b.Ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, 2, got.Version)
		require.Equal(t, "wait2d", got.CurrentNode)
		require.True(t, got.WaitUntil.Equal(run.WaitUntil.Add(24*3600e9)), "2d from the same start: %s vs %s", got.WaitUntil, run.WaitUntil)
	}
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.publish", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.EqualValues(t, 3, audit[0].Summary["moved"])
	require.Equal(t, "api_key", audit[0].ActorType)

	// Rollback: v3 restores v1's document, the runs move back to "wait".
	r = b.Call("POST", "/api/v1/journeys/"+id+"/rollback", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	out = r.JSON(t)
	require.EqualValues(t, 3, out["version"])
	require.EqualValues(t, 3, out["migration"].(map[string]any)["moved"])
	for _, run := range runs {
		got, err := b.Store.GetRun(b.Ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, 3, got.Version)
		require.Equal(t, "wait", got.CurrentNode)
		require.True(t, got.WaitUntil.Equal(*run.WaitUntil), "back to the original wake time: %s vs %s", got.WaitUntil, run.WaitUntil)
	}
	r = b.Call("GET", "/api/v1/journeys/"+id+"/versions/3", key, nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), `"wait"`)
	r = b.Call("GET", "/api/v1/journeys/"+id, key, nil)
	require.Contains(t, string(r.Body), `"wait"`, "the draft, untouched since v2, holds the restored document")
	audit, err = b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.rollback", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.EqualValues(t, 2, audit[0].Summary["rollback_of"])
	require.EqualValues(t, 1, audit[0].Summary["restored_version"])

	// Rolling back again undoes the rollback (v4 = v2's document).
	r = b.Call("POST", "/api/v1/journeys/"+id+"/rollback", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	got, err := b.Store.GetRun(b.Ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, "wait2d", got.CurrentNode)

	// Nothing to roll back for a journey published once.
	r = b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	other := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+other+"/rollback", key, nil)
	require.Equal(t, 409, r.Status, string(r.Body))
	b.Call("POST", "/api/v1/journeys/"+other+"/publish", key, nil)
	r = b.Call("POST", "/api/v1/journeys/"+other+"/rollback", key, nil)
	require.Equal(t, 409, r.Status, string(r.Body))
	require.Equal(t, "nothing_to_roll_back", r.JSON(t)["error"].(map[string]any)["code"])

	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/rollback", reader, nil)
	require.Equal(t, 403, r.Status)
}

func TestPublishPlanUI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status)
	runs := b.ParkRuns(id, 2)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))
	rev := fmt.Sprint(r.JSON(t)["draft_revision"])

	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	csrf := c.Login("ed@example.com", "correct horse battery")
	resp, html := c.Get("/journeys/" + id + "/publish")
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="migration-plan"`)
	require.Contains(t, html, `data-node-id="wait"`)
	require.Contains(t, html, `name="plan.wait"`)
	require.Contains(t, html, `value="move:wait2d"`)
	require.Contains(t, html, `data-testid="node-deleted"`)

	// Publishing without choosing for the deleted step: 422, re-rendered.
	resp, html = c.PostForm("/journeys/"+id+"/publish", url.Values{"_csrf": {csrf}, "revision": {rev}})
	require.Equal(t, 422, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="plan-problems"`)

	// Check the plan (dry run): totals, nothing published.
	resp, html = c.PostForm("/journeys/"+id+"/publish?dry_run=1", url.Values{"_csrf": {csrf}, "revision": {rev}, "plan.wait": {"exit"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="plan-ok"`)
	require.Contains(t, html, "0 stay, 0 move, 2 exit")
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 1, j.LiveVersion)

	resp, html = c.PostForm("/journeys/"+id+"/publish", url.Values{"_csrf": {csrf}, "revision": {rev}, "plan.wait": {"exit"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="publish-done"`)
	require.Contains(t, html, "2 exited")
	require.Contains(t, html, "roll back to v1")
	for _, run := range runs {
		got, err := b.Store.GetRun(b.Ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunExited, got.Status)
	}
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.publish", TargetID: id})
	require.NoError(t, err)
	require.Equal(t, "user", audit[0].ActorType)
	require.EqualValues(t, 2, audit[0].Summary["exited"])

	resp, html = c.PostForm("/journeys/"+id+"/rollback", url.Values{"_csrf": {csrf}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, "Rolled back")
	require.True(t, strings.Contains(html, "restores v1"), html)
	j, err = b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 3, j.LiveVersion)
}
