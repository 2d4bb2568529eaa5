package ui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// deepArray is n arrays inside each other: n levels.
func deepArray(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// Every inbound JSON surface refuses nesting deeper than 64 levels with a
// 400 naming the limit, before anything is written (security review F3).
func TestDeepJSONIsRefused(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.HookJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/hook", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	hook := res.JSON(t)
	path := strings.TrimPrefix(hook["url"].(string), "http://waymark.test")
	secret := hook["secrets"].([]any)[0].(string)

	// The review's body: 9,990 levels in 20 KB.
	deepBody := []byte(`{"user": {"id": "deep", "email": "deep@example.com"}, "x": [` + deepArray(9990) + `]}`)
	res = b.PostHook(path, secret, "msg_deep", time.Time{}, deepBody)
	require.Equal(t, 400, res.Status, string(res.Body))
	e := res.JSON(t)["error"].(map[string]any)
	require.Equal(t, "json_too_deep", e["code"])
	require.Contains(t, e["message"], "at most 64 levels")
	_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "deep")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing written")
	res = b.PostHook(path, secret, "msg_deep", time.Time{}, []byte(`{"user": {"id": "deep"}}`))
	require.Equal(t, 202, res.Status, "a refused request does not spend its webhook-id: %s", res.Body)

	// Exactly 64 levels is accepted: the object, "properties" and 62 arrays.
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"name": "e", "profile_id": "p64", "properties": {"a": `+deepArray(62)+`}}`))
	require.Equal(t, 202, res.Status, string(res.Body))

	for _, tc := range []struct {
		name, method, path, body string
		code                     string
	}{
		{"event properties", "POST", "/api/v1/events", `{"name": "e", "profile_id": "p65", "properties": {"a": ` + deepArray(63) + `}}`, "json_too_deep"},
		{"batch event profile attributes", "POST", "/api/v1/events", `{"events": [{"name": "e", "profile_id": "p1"},
			{"name": "e", "profile_id": "p2", "profile": {"attributes": {"a": ` + deepArray(200) + `}}}]}`, "json_too_deep"},
		{"profile attributes", "POST", "/api/v1/profiles", `{"external_id": "p3", "attributes": {"a": ` + deepArray(100) + `}}`, "json_too_deep"},
		{"profile consent", "POST", "/api/v1/profiles", `{"external_id": "p4", "consent": {"email": ` + deepArray(100) + `}}`, "json_too_deep"},
		{"journey document", "POST", "/api/v1/journeys?allow_invalid=true", `{"format": 1, "name": "Deep", "nodes": [{"id": "start",
			"kind": "trigger_event", "config": {"event": "x", "junk": ` + deepArray(2000) + `}}], "edges": []}`, "invalid_document"},
		{"journey draft", "PUT", "/api/v1/journeys/" + jid + "/draft?allow_invalid=true", `{"format": 1, "name": "Deep", "settings": ` +
			strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `, "nodes": [], "edges": []}`, "invalid_document"},
		{"publish plan", "POST", "/api/v1/journeys/" + jid + "/publish", `{"plan": ` + deepArray(100) + `}`, "json_too_deep"},
		{"simulation", "POST", "/api/v1/journeys/" + jid + "/simulate", `{"entry": {"trigger": "start", "body": ` + deepArray(100) + `}}`, "json_too_deep"},
		{"run move", "POST", "/api/v1/runs/nope/move", `{"node_id": ` + deepArray(100) + `}`, "json_too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.Call(tc.method, tc.path, admin, []byte(tc.body))
			require.Equal(t, 400, res.Status, string(res.Body))
			e := res.JSON(t)["error"].(map[string]any)
			require.Equal(t, tc.code, e["code"])
			require.Contains(t, e["message"], "64 levels")
		})
	}
	for _, ext := range []string{"p65", "p1", "p2", "p3", "p4"} {
		_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, ext)
		require.ErrorIs(t, err, store.ErrNotFound, "%s: nothing written", ext)
	}
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, jid)
	require.NoError(t, err)
	require.Equal(t, 1, j.DraftRevision, "the deep draft was not saved")
}

// Stored JSON deeper or larger than today's limits (rows written before
// them) renders within a bound, with a visible marker where it is cut.
func TestStoredDeepJSONRendersBounded(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	prof, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "old",
		Attributes: map[string]any{"huge": strings.Repeat("x", 100<<10)}})
	require.NoError(t, err)

	// An entry 3,000 levels deep, as the engine stored it before bodies
	// were limited. Indented the old way this page was ~18 MB.
	var deep any
	require.NoError(t, json.Unmarshal([]byte(deepArray(3000)), &deep))
	deepRun, err := b.Engine.Enter(b.Ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: prof.ID,
		TriggerNode: "start", Event: worker.EntryEvent{Body: map[string]any{"user_id": "old", "x": deep}}})
	require.NoError(t, err)
	// A wide one: 200 KB of JSON, cut at 64 KB.
	wide := make([]any, 10000)
	for i := range wide {
		wide[i] = fmt.Sprintf("item-%06d", i)
	}
	wideRun, err := b.Engine.Enter(b.Ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: prof.ID,
		TriggerNode: "start", Event: worker.EntryEvent{Body: map[string]any{"items": wide}}})
	require.NoError(t, err)

	b.CreateUser("ad@example.com", "correct horse battery", store.RoleAdmin)
	c := b.Client()
	c.Login("ad@example.com", "correct horse battery")

	resp, page := c.Get("/runs/" + deepRun.ID)
	require.Equal(t, 200, resp.StatusCode)
	require.Less(t, len(page), 256<<10, "a 6 KB entry gives a small page")
	require.Contains(t, page, `data-testid="run-entry"`)
	require.Contains(t, page, "&#34;user_id&#34;: &#34;old&#34;", "the shallow part is indented as before")
	require.Contains(t, page, strings.Repeat("[", 2900), "the deep part is compact")

	resp, page = c.Get("/runs/" + wideRun.ID)
	require.Equal(t, 200, resp.StatusCode)
	require.Less(t, len(page), 128<<10)
	require.Contains(t, page, "item-000000")
	require.NotContains(t, page, "item-009999", "cut")
	require.Contains(t, page, jsonlimit.TruncatedMarker+" the first 64 KB are shown", "the cut is visible")

	resp, page = c.Get("/profiles/old")
	require.Equal(t, 200, resp.StatusCode)
	require.Less(t, len(page), 64<<10, "a 100 KB attribute is cut at 8 KB")
	require.Contains(t, page, jsonlimit.TruncatedMarker+" the first 8 KB are shown; the value is 100 KB)")
}
