package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

// apiKey creates a key in workspace ws with scopes and returns it.
func (b *testBundle) apiKey(ws string, scopes ...string) string {
	b.t.Helper()
	_, err := b.store.EnsureWorkspace(b.ctx, ws, ws)
	require.NoError(b.t, err)
	key, prefix, hash := auth.NewAPIKey()
	_, err = b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: ws, Name: "test", Prefix: prefix, KeyHash: hash, Scopes: scopes})
	require.NoError(b.t, err)
	return key
}

type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func (b *testBundle) call(method, path, key string, body []byte, header ...string) apiResp {
	b.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.server.App().Test(req, -1)
	require.NoError(b.t, err)
	out, _ := io.ReadAll(resp.Body)
	b.checkOpenAPI(method, path, req.Header, body, resp.StatusCode, resp.Header, out) // openapi_replay_test.go
	return apiResp{status: resp.StatusCode, header: resp.Header, body: out}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "flows", "testdata", name))
	require.NoError(t, err)
	return b
}

func TestJourneyAPILifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := testdata(t, "welcome_series.json")

	r := b.call("POST", "/api/v1/journeys", key, doc)
	require.Equal(t, 201, r.status, string(r.body))
	created := r.json(t)
	id := created["id"].(string)
	require.Equal(t, "Welcome series", created["name"])
	require.Equal(t, "draft", created["status"])
	require.Nil(t, created["live_version"])
	require.Equal(t, "/api/v1/journeys/"+id, r.header.Get("Location"))

	r = b.call("GET", "/api/v1/journeys/"+id, key, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, `"1"`, r.header.Get("ETag"))
	got := r.json(t)
	draft := got["draft"].(map[string]any)
	require.Len(t, draft["nodes"], 10)

	// Optimistic concurrency on drafts.
	renamed := bytes.Replace(doc, []byte(`"name": "Welcome series"`), []byte(`"name": "Welcome series v2"`), 1)
	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, renamed, "If-Match", `"1"`)
	require.Equal(t, 200, r.status, string(r.body))
	require.EqualValues(t, 2, r.json(t)["draft_revision"])
	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc, "If-Match", `"1"`)
	require.Equal(t, 409, r.status)
	require.Equal(t, "stale_revision", r.json(t)["error"].(map[string]any)["code"])

	// Publish, twice: versions are numbered.
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.EqualValues(t, 1, r.json(t)["version"])
	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc)
	require.Equal(t, 200, r.status, string(r.body))
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.status)
	require.EqualValues(t, 2, r.json(t)["version"])
	j := r.json(t)["journey"].(map[string]any)
	require.Equal(t, "live", j["status"])
	require.EqualValues(t, 2, j["live_version"])

	r = b.call("GET", "/api/v1/journeys/"+id+"/versions", key, nil)
	require.Equal(t, 200, r.status)
	versions := r.json(t)["versions"].([]any)
	require.Len(t, versions, 2)
	require.Equal(t, true, versions[0].(map[string]any)["live"])
	r = b.call("GET", "/api/v1/journeys/"+id+"/versions/1", key, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "Welcome series v2", r.json(t)["document"].(map[string]any)["name"])
	r = b.call("GET", "/api/v1/journeys/"+id+"/versions/9", key, nil)
	require.Equal(t, 404, r.status)
	r = b.call("GET", "/api/v1/journeys/"+id+"/versions/x", key, nil)
	require.Equal(t, 400, r.status)

	r = b.call("GET", "/api/v1/journeys/"+id+"/diff?from=1&to=2", key, nil)
	require.Equal(t, 200, r.status, string(r.body))
	require.Contains(t, string(r.body), "Welcome series v2")

	// Pause, resume, archive; an archived journey cannot be published or edited.
	for _, step := range []struct{ action, status string }{{"pause", "paused"}, {"resume", "live"}, {"archive", "archived"}} {
		r = b.call("POST", "/api/v1/journeys/"+id+"/"+step.action, key, nil)
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, step.status, r.json(t)["status"])
	}
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 409, r.status)
	r = b.call("PUT", "/api/v1/journeys/"+id+"/draft", key, doc)
	require.Equal(t, 409, r.status)

	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{TargetID: id})
	require.NoError(t, err)
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"journey.archive", "journey.resume", "journey.pause", "journey.publish", "journey.publish", "journey.create"}, actions)

	r = b.call("GET", "/api/v1/journeys?status=all", key, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.json(t)["journeys"], 1)
	r = b.call("GET", "/api/v1/journeys", key, nil)
	require.Len(t, r.json(t)["journeys"], 0, "archived journeys are hidden by default")
	r = b.call("GET", "/api/v1/journeys?limit=0", key, nil)
	require.Equal(t, 400, r.status)
}

func TestJourneyAPIBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")

	r := b.call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "x", "nodes": [`))
	require.Equal(t, 400, r.status)
	e := r.json(t)["error"].(map[string]any)
	require.Equal(t, "invalid_document", e["code"])

	// A NUL character (which PostgreSQL cannot store) is the document's
	// fault, named by its field: never a 500 from the database.
	r = b.call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "x\u0000"}`))
	require.Equal(t, 400, r.status, string(r.body))
	require.Contains(t, string(r.body), `"field":"name"`)

	invalid := []byte(`{"format":1,"name":"Bad","nodes":[
		{"id":"start","kind":"trigger_event","config":{"event":"signup"}},
		{"id":"check","kind":"condition","config":{"expr":"profile.age >"}},
		{"id":"mystery","kind":"teleport","config":{}}],
		"edges":[{"from":"start","to":"check"}]}`)
	r = b.call("POST", "/api/v1/journeys", key, invalid)
	require.Equal(t, 422, r.status, string(r.body))
	e = r.json(t)["error"].(map[string]any)
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
	r = b.call("GET", "/api/v1/journeys?status=all", key, nil)
	require.Len(t, r.json(t)["journeys"], 0, "nothing saved")

	// The editor may save work in progress explicitly.
	r = b.call("POST", "/api/v1/journeys?allow_invalid=true", key, invalid)
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	require.NotEmpty(t, r.json(t)["problems"])
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.status, "publishing checks everything")
	r = b.call("POST", "/api/v1/journeys?allow_invalid=maybe", key, invalid)
	require.Equal(t, 400, r.status)

	// Connectors are checked at publish.
	doc := bytes.ReplaceAll(testdata(t, "welcome_series.json"), []byte(`"connector": "sandbox"`), []byte(`"connector": "mailgun-eu"`))
	r = b.call("POST", "/api/v1/journeys", key, doc)
	require.Equal(t, 201, r.status, string(r.body))
	id = r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 422, r.status)
	require.Contains(t, string(r.body), `"field":"connector"`)
	require.Contains(t, string(r.body), `"node_id":"welcome"`)

	// Oversized documents get the JSON 413.
	huge := []byte(`{"format":1,"name":"x","nodes":[],"edges":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	base := b.listen()
	req, err := http.NewRequest("POST", base+"/api/v1/journeys", bytes.NewReader(huge))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode)

	r = b.call("GET", "/api/v1/journeys/nope", key, nil)
	require.Equal(t, 404, r.status)
}

func TestJourneyAPIScopesAndWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	writer := b.apiKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	reader := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	events := b.apiKey(store.DefaultWorkspaceID, "events:write")
	other := b.apiKey("acme", "admin")

	r := b.call("POST", "/api/v1/journeys", writer, testdata(t, "birthday.json"))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)

	r = b.call("POST", "/api/v1/journeys", reader, testdata(t, "birthday.json"))
	require.Equal(t, 403, r.status)
	require.Equal(t, "insufficient_scope", r.json(t)["error"].(map[string]any)["code"])
	r = b.call("GET", "/api/v1/journeys/"+id, events, nil)
	require.Equal(t, 403, r.status)
	r = b.call("GET", "/api/v1/journeys/"+id, reader, nil)
	require.Equal(t, 200, r.status)

	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/journeys/" + id}, {"GET", "/api/v1/journeys/" + id + "/export"},
		{"PUT", "/api/v1/journeys/" + id + "/draft"}, {"POST", "/api/v1/journeys/" + id + "/publish"},
		{"POST", "/api/v1/journeys/" + id + "/pause"}, {"GET", "/api/v1/journeys/" + id + "/versions"},
		{"GET", "/api/v1/journeys/" + id + "/diff?from=draft"},
	} {
		r = b.call(p.method, p.path, other, testdata(t, "birthday.json"))
		require.Equal(t, 404, r.status, "%s %s from another workspace: %s", p.method, p.path, r.body)
	}
}

func TestJourneyExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	files, err := filepath.Glob(filepath.Join("..", "flows", "testdata", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			r := b.call("POST", "/api/v1/journeys", key, data)
			require.Equal(t, 201, r.status, string(r.body))
			id := r.json(t)["id"].(string)
			r = b.call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
			require.Equal(t, 200, r.status, string(r.body))
			first := b.call("GET", "/api/v1/journeys/"+id+"/export", key, nil)
			require.Equal(t, 200, first.status)
			r = b.call("POST", "/api/v1/journeys", key, first.body)
			require.Equal(t, 201, r.status, string(r.body))
			second := b.call("GET", "/api/v1/journeys/"+r.json(t)["id"].(string)+"/export?version=draft", key, nil)
			require.Equal(t, string(first.body), string(second.body), "export → import → export is identical")
			v1 := b.call("GET", "/api/v1/journeys/"+id+"/export?version=1", key, nil)
			require.Equal(t, string(first.body), string(v1.body))
		})
	}
}

func TestNodeCatalogueAndValidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	r := b.call("GET", "/api/v1/nodes", key, nil)
	require.Equal(t, 200, r.status)
	var cat struct {
		Nodes []struct {
			Kind     string `json:"kind"`
			Category string `json:"category"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(r.body, &cat))
	kinds := map[string]bool{}
	for _, n := range cat.Nodes {
		kinds[n.Kind] = true
	}
	for _, k := range []string{"trigger_webhook", "trigger_event", "trigger_segment", "trigger_schedule", "condition", "switch", "split",
		"delay", "wait_event", "send_email", "send_sms", "send_webhook", "audience_add", "audience_remove", "update_profile", "goal", "exit"} {
		require.True(t, kinds[k], "catalogue lacks %s", k)
	}

	r = b.call("POST", "/api/v1/journeys/validate", key, testdata(t, "lead_scoring.json"))
	require.Equal(t, 200, r.status, string(r.body))
	require.Equal(t, true, r.json(t)["valid"])
	r = b.call("POST", "/api/v1/journeys/validate", key, []byte(`{"format":1,"name":"x","nodes":[],"edges":[]}`))
	require.Equal(t, 200, r.status)
	require.Equal(t, false, r.json(t)["valid"])
	require.NotEmpty(t, r.json(t)["problems"])
}
