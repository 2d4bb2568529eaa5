package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestJourneyAPILifecycle(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := uitest.FlowsTestdata(t, "welcome_series.json")

	r := b.Call("POST", "/api/v1/journeys", key, doc)
	require.Equal(t, 201, r.Status, string(r.Body))
	created := r.JSON(t)
	id := created["id"].(string)
	require.Equal(t, "Welcome series", created["name"])
	require.Equal(t, "draft", created["status"])
	require.Nil(t, created["live_version"])
	require.Equal(t, "/api/v1/journeys/"+id, r.Header.Get("Location"))

	r = b.Call("GET", "/api/v1/journeys/"+id, key, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, `"1"`, r.Header.Get("ETag"))
	got := r.JSON(t)
	draft := got["draft"].(map[string]any)
	require.Len(t, draft["nodes"], 10)

	// Optimistic concurrency on drafts.
	renamed := bytes.Replace(doc, []byte(`"name": "Welcome series"`), []byte(`"name": "Welcome series v2"`), 1)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, renamed, "If-Match", `"1"`)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.EqualValues(t, 2, r.JSON(t)["draft_revision"])
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc, "If-Match", `"1"`)
	require.Equal(t, 409, r.Status)
	require.Equal(t, "stale_revision", r.JSON(t)["error"].(map[string]any)["code"])

	// Publish, twice: versions are numbered.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.EqualValues(t, 1, r.JSON(t)["version"])
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc)
	require.Equal(t, 200, r.Status, string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status)
	require.EqualValues(t, 2, r.JSON(t)["version"])
	j := r.JSON(t)["journey"].(map[string]any)
	require.Equal(t, "live", j["status"])
	require.EqualValues(t, 2, j["live_version"])

	r = b.Call("GET", "/api/v1/journeys/"+id+"/versions", key, nil)
	require.Equal(t, 200, r.Status)
	versions := r.JSON(t)["versions"].([]any)
	require.Len(t, versions, 2)
	require.Equal(t, true, versions[0].(map[string]any)["live"])
	r = b.Call("GET", "/api/v1/journeys/"+id+"/versions/1", key, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "Welcome series v2", r.JSON(t)["document"].(map[string]any)["name"])
	r = b.Call("GET", "/api/v1/journeys/"+id+"/versions/9", key, nil)
	require.Equal(t, 404, r.Status)
	r = b.Call("GET", "/api/v1/journeys/"+id+"/versions/x", key, nil)
	require.Equal(t, 400, r.Status)

	r = b.Call("GET", "/api/v1/journeys/"+id+"/diff?from=1&to=2", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "Welcome series v2")

	// Pause, resume, archive; an archived journey cannot be published or edited.
	for _, step := range []struct{ action, status string }{{"pause", "paused"}, {"resume", "live"}, {"archive", "archived"}} {
		r = b.Call("POST", "/api/v1/journeys/"+id+"/"+step.action, key, nil)
		require.Equal(t, 200, r.Status, string(r.Body))
		require.Equal(t, step.status, r.JSON(t)["status"])
	}
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 409, r.Status)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc)
	require.Equal(t, 409, r.Status)

	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{TargetID: id})
	require.NoError(t, err)
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"journey.archive", "journey.resume", "journey.pause", "journey.publish", "journey.publish", "journey.create"}, actions)

	r = b.Call("GET", "/api/v1/journeys?status=all", key, nil)
	require.Equal(t, 200, r.Status)
	require.Len(t, r.JSON(t)["journeys"], 1)
	r = b.Call("GET", "/api/v1/journeys", key, nil)
	require.Len(t, r.JSON(t)["journeys"], 0, "archived journeys are hidden by default")
	r = b.Call("GET", "/api/v1/journeys?limit=0", key, nil)
	require.Equal(t, 400, r.Status)
}

func TestJourneyAPIBadInput(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")

	r := b.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "x", "nodes": [`))
	require.Equal(t, 400, r.Status)
	e := r.JSON(t)["error"].(map[string]any)
	require.Equal(t, "invalid_document", e["code"])

	// A NUL character (which PostgreSQL cannot store) is the document's
	// fault, named by its field: never a 500 from the database.
	r = b.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "x\u0000"}`))
	require.Equal(t, 400, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"field":"name"`)

	invalid := []byte(`{"format":1,"name":"Bad","nodes":[
		{"id":"start","kind":"trigger_event","config":{"event":"signup"}},
		{"id":"check","kind":"condition","config":{"expr":"profile.age >"}},
		{"id":"mystery","kind":"teleport","config":{}}],
		"edges":[{"from":"start","to":"check"}]}`)
	r = b.Call("POST", "/api/v1/journeys", key, invalid)
	require.Equal(t, 422, r.Status, string(r.Body))
	e = r.JSON(t)["error"].(map[string]any)
	require.Equal(t, "invalid_journey", e["code"])
	details := e["details"].([]any)
	byNode := map[string]map[string]any{}
	for _, d := range details {
		m := d.(map[string]any)
		byNode[m["node_id"].(string)] = m
	}
	require.Contains(t, byNode, "check")
	require.Equal(t, "expr", byNode["check"]["field"])
	require.Contains(t, byNode, "mystery")
	r = b.Call("GET", "/api/v1/journeys?status=all", key, nil)
	require.Len(t, r.JSON(t)["journeys"], 0, "nothing saved")

	// The editor may save work in progress explicitly.
	r = b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, invalid)
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.NotEmpty(t, r.JSON(t)["problems"])
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.Status, "publishing checks everything")
	r = b.Call("POST", "/api/v1/journeys?allow_invalid=maybe", key, invalid)
	require.Equal(t, 400, r.Status)

	// Connectors are checked at publish.
	doc := bytes.ReplaceAll(uitest.FlowsTestdata(t, "welcome_series.json"), []byte(`"connector": "sandbox"`), []byte(`"connector": "mailgun-eu"`))
	r = b.Call("POST", "/api/v1/journeys", key, doc)
	require.Equal(t, 201, r.Status, string(r.Body))
	id = r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.Status)
	require.Contains(t, string(r.Body), `"field":"connector"`)
	require.Contains(t, string(r.Body), `"node_id":"welcome"`)

	// Oversized documents get the JSON 413.
	huge := []byte(`{"format":1,"name":"x","nodes":[],"edges":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	base := b.Listen()
	req, err := http.NewRequest("POST", base+"/api/v1/journeys", bytes.NewReader(huge))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode)

	r = b.Call("GET", "/api/v1/journeys/nope", key, nil)
	require.Equal(t, 404, r.Status)
}

func TestJourneyAPIScopesAndWorkspaces(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	writer := b.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	events := b.APIKey(store.DefaultWorkspaceID, "events:write")
	other := b.APIKey("acme", "admin")

	r := b.Call("POST", "/api/v1/journeys", writer, uitest.FlowsTestdata(t, "birthday.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	r = b.Call("POST", "/api/v1/journeys", reader, uitest.FlowsTestdata(t, "birthday.json"))
	require.Equal(t, 403, r.Status)
	require.Equal(t, "insufficient_scope", r.JSON(t)["error"].(map[string]any)["code"])
	r = b.Call("GET", "/api/v1/journeys/"+id, events, nil)
	require.Equal(t, 403, r.Status)
	r = b.Call("GET", "/api/v1/journeys/"+id, reader, nil)
	require.Equal(t, 200, r.Status)

	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/journeys/" + id}, {"GET", "/api/v1/journeys/" + id + "/export"},
		{"PUT", "/api/v1/journeys/" + id + "/draft"}, {"POST", "/api/v1/journeys/" + id + "/publish"},
		{"POST", "/api/v1/journeys/" + id + "/pause"}, {"GET", "/api/v1/journeys/" + id + "/versions"},
		{"GET", "/api/v1/journeys/" + id + "/diff?from=draft"},
	} {
		r = b.Call(p.method, p.path, other, uitest.FlowsTestdata(t, "birthday.json"))
		require.Equal(t, 404, r.Status, "%s %s from another workspace: %s", p.method, p.path, r.Body)
	}
}

func TestJourneyExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	files, err := filepath.Glob(filepath.Join(uitest.FlowsTestdataDir(), "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			r := b.Call("POST", "/api/v1/journeys", key, data)
			require.Equal(t, 201, r.Status, string(r.Body))
			id := r.JSON(t)["id"].(string)
			r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
			require.Equal(t, 200, r.Status, string(r.Body))
			first := b.Call("GET", "/api/v1/journeys/"+id+"/export", key, nil)
			require.Equal(t, 200, first.Status)
			r = b.Call("POST", "/api/v1/journeys", key, first.Body)
			require.Equal(t, 201, r.Status, string(r.Body))
			second := b.Call("GET", "/api/v1/journeys/"+r.JSON(t)["id"].(string)+"/export?version=draft", key, nil)
			require.Equal(t, string(first.Body), string(second.Body), "export → import → export is identical")
			v1 := b.Call("GET", "/api/v1/journeys/"+id+"/export?version=1", key, nil)
			require.Equal(t, string(first.Body), string(v1.Body))
		})
	}
}

func TestNodeCatalogueAndValidate(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	r := b.Call("GET", "/api/v1/nodes", key, nil)
	require.Equal(t, 200, r.Status)
	var cat struct {
		Nodes []struct {
			Kind     string `json:"kind"`
			Category string `json:"category"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &cat))
	kinds := map[string]bool{}
	for _, n := range cat.Nodes {
		kinds[n.Kind] = true
	}
	for _, k := range []string{"trigger_webhook", "trigger_event", "trigger_segment", "trigger_schedule", "condition", "switch", "split",
		"delay", "wait_event", "send_email", "send_sms", "send_webhook", "audience_add", "audience_remove", "update_profile", "goal", "exit"} {
		require.True(t, kinds[k], "catalogue lacks %s", k)
	}

	r = b.Call("POST", "/api/v1/journeys/validate", key, uitest.FlowsTestdata(t, "lead_scoring.json"))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, true, r.JSON(t)["valid"])
	r = b.Call("POST", "/api/v1/journeys/validate", key, []byte(`{"format":1,"name":"x","nodes":[],"edges":[]}`))
	require.Equal(t, 200, r.Status)
	require.Equal(t, false, r.JSON(t)["valid"])
	require.NotEmpty(t, r.JSON(t)["problems"])
}
