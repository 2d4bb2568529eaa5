package web_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// A draft with a document problem (an unknown name in a condition) and a
// connector problem (a send through a connector that does not exist).
const problemsDraft = `{"format": 1, "name": "Problems", "nodes": [
  {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
  {"id": "check", "kind": "condition", "config": {"expr": "profle.x == 1"}},
  {"id": "hello", "kind": "send_email", "config": {"connector": "nope", "subject": "Hi", "body": "<p>x</p>"}}
 ],
 "edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "hello"}]}`

// TestDraftProblemsAreOneList: the editor's autosave, the API's PUT …/draft
// (and POST /journeys) and the validate API report the same problems in the
// same order, connectors included. Before, the API's saves left connector
// problems out and the autosave validated twice.
func TestDraftProblemsAreOneList(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Problems"}})

	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(problemsDraft), &doc))
	resp, out := c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": 1, "document": doc})
	require.Equal(t, 200, resp.StatusCode, out)
	// The editor's problems carry each field's label beside its path (the
	// API's do not); the list is the same.
	list, _ := out["problems"].([]any)
	for _, p := range list {
		m := p.(map[string]any)
		require.NotEmpty(t, m["label"], "a field label for the editor")
		delete(m, "label")
	}
	editor := uitest.MustJSON(t, list)
	require.Contains(t, editor, `"node_id":"hello"`, "the editor flags the connector")
	require.Contains(t, editor, `"node_id":"check"`)

	problemsOf := func(r uitest.APIResp) string {
		t.Helper()
		return uitest.MustJSON(t, r.JSON(t)["problems"])
	}
	r := b.Call("PUT", "/api/v1/journeys/"+id+"/draft?allow_invalid=true", key, []byte(problemsDraft))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, editor, problemsOf(r), "PUT …/draft: the editor's list")

	r = b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(problemsDraft))
	require.Equal(t, 201, r.Status, string(r.Body))
	require.Equal(t, editor, problemsOf(r), "POST /journeys: the editor's list")

	r = b.Call("POST", "/api/v1/journeys/validate", key, []byte(problemsDraft))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, editor, problemsOf(r), "validate: the editor's list")

	// Strict (the API's default): a document with problems of its own is
	// refused, with the same list as details.
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(problemsDraft))
	require.Equal(t, 422, r.Status, string(r.Body))
	e := r.JSON(t)["error"].(map[string]any)
	require.Equal(t, "invalid_journey", e["code"])
	require.Equal(t, editor, uitest.MustJSON(t, e["details"]))

	// Only the connector wrong (it may be created later): a strict save
	// keeps the draft and lists the problem, as the editor shows it;
	// publishing refuses it.
	var fixed map[string]any
	require.NoError(t, json.Unmarshal([]byte(problemsDraft), &fixed))
	fixed["nodes"].([]any)[1].(map[string]any)["config"] = map[string]any{"expr": "profile.x == 1"}
	body, err := json.Marshal(fixed)
	require.NoError(t, err)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, body)
	require.Equal(t, 200, r.Status, string(r.Body))
	api := problemsOf(r)
	require.JSONEq(t, `[{"node_id": "hello", "field": "connector", "message": "unknown connector \"nope\""}]`, api)
	rev := r.JSON(t)["draft_revision"]
	resp, out = c.PostJSON("/journeys/"+id+"/draft", map[string]any{"revision": rev, "document": fixed})
	require.Equal(t, 200, resp.StatusCode, out)
	require.JSONEq(t, `[{"node_id": "hello", "field": "connector", "label": "Connector", "message": "unknown connector \"nope\""}]`, uitest.MustJSON(t, out["problems"]),
		"the API's list, with the field's label")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `unknown connector \"nope\"`)

	// With a sandbox send it saves without problems.
	fixed["nodes"].([]any)[2].(map[string]any)["config"].(map[string]any)["connector"] = "sandbox"
	body, err = json.Marshal(fixed)
	require.NoError(t, err)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, body)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Nil(t, r.JSON(t)["problems"])
}
