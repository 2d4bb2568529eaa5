package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
)

// A journey created through the API without positions opens laid out, not
// as a pile of steps at the origin, and opening it is not an edit.
func TestUnplacedJourneyOpensLaidOut(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "No positions", "settings": {"timezone": "UTC"},
	  "nodes": [
	    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	    {"id": "vip", "kind": "condition", "config": {"expr": "profile.plan == \"vip\""}},
	    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	    {"id": "wait", "kind": "delay", "config": {"duration": "1h"}},
	    {"id": "done", "kind": "exit"}
	  ],
	  "edges": [{"from": "start", "to": "vip"}, {"from": "vip", "port": "yes", "to": "hello"}, {"from": "vip", "port": "no", "to": "wait"},
	    {"from": "hello", "to": "done"}, {"from": "wait", "to": "done"}]}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	bb.openEditor(r.JSON(t)["id"].(string))

	boxes := bb.nodeBoxes()
	require.Len(t, boxes, 5)
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			overlap := a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
			require.False(t, overlap, "%s and %s overlap: %+v %+v", a.ID, b.ID, a, b)
		}
	}
	x := map[string]float64{}
	for _, b := range boxes {
		x[b.ID] = b.X
	}
	require.Less(t, x["start"], x["vip"], "left to right")
	require.Less(t, x["vip"], x["hello"])
	require.Less(t, x["hello"], x["done"])
	// Laying it out on load is not an edit: nothing to save, nothing to undo.
	require.False(t, browsertest.Eval[bool](bb.br, `waymarkEditor.state().dirty`))
	bb.br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	require.Equal(t, boxes, bb.nodeBoxes(), "Ctrl+Z has nothing to undo")
	require.False(t, browsertest.Eval[bool](bb.br, `waymarkEditor.state().dirty`))
}
