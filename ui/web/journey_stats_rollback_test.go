package web_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestJourneyStatsAfterRollback: v1 parks runs at "wait", v2 moves them to
// "wait2d", a rollback (v3, v1's document) moves them back. Every node of
// v3's report carries the kind it has in the version it belongs to — the
// v2-only "wait2d" is a delay, not a "migrate" — and the moves are counted
// as moves.
func TestJourneyStatsAfterRollback(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	b.ParkRuns(id, 3)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {"wait": {"action": "move", "to": "wait2d"}}}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/"+id+"/rollback", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))

	r = b.Call("GET", "/api/v1/journeys/"+id+"/stats", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	t.Log(string(r.Body))
	var got struct {
		Version int `json:"version"`
		Nodes   []struct {
			NodeID  string `json:"node_id"`
			Kind    string `json:"kind"`
			Entered int64  `json:"entered"`
			Waiting int64  `json:"waiting"`
			Moved   int64  `json:"moved"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &got))
	require.Equal(t, 3, got.Version)
	kinds := map[string]string{}
	for _, n := range got.Nodes {
		kinds[n.NodeID] = n.Kind
	}
	require.Equal(t, map[string]string{"start": "trigger_event", "wait": "delay", "hello": "send_email", "wait2d": "delay"}, kinds,
		"every node has its own kind; wait2d is v2's delay")
	require.Equal(t, "wait2d", got.Nodes[3].NodeID, "a node of an earlier version comes after the document's")
	byID := map[string]int{}
	for i, n := range got.Nodes {
		byID[n.NodeID] = i
	}
	// The runs entered on v1 and waited at "wait" (moved to v2), waited at
	// "wait2d" (moved back by the rollback), and wait at "wait" again.
	wait, wait2d := got.Nodes[byID["wait"]], got.Nodes[byID["wait2d"]]
	require.EqualValues(t, 3, wait.Moved)
	require.EqualValues(t, 3, wait.Waiting)
	require.EqualValues(t, 6, wait.Entered, "two visits each")
	require.EqualValues(t, 3, wait2d.Moved)
	require.EqualValues(t, 3, wait2d.Entered)

	// The UI's twin answers the same.
	c := b.Client()
	b.CreateUser("viewer@example.com", "correct horse battery", store.RoleViewer)
	c.Login("viewer@example.com", "correct horse battery")
	resp, body := c.Get("/journeys/" + id + "/stats.json")
	require.Equal(t, 200, resp.StatusCode, body)
	require.Contains(t, body, `"node_id":"wait2d","kind":"delay"`)
	require.NotContains(t, body, `"migrate"`)
}
