package ingest_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

const upgradeJourney = `{"format": 1, "name": "Upgraded", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_attribute", "config": {"attribute": "plan", "from": "trial", "to": "pro"}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1d"}}, {"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "done"}]}`

const movedJourney = `{"format": 1, "name": "Moved", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_attribute", "config": {"attribute": "timezone", "expr": "change.old != nil"}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1d"}}, {"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "done"}]}`

// An attribute change enters attribute-triggered journeys from every
// write path: the profile API, an event's profile, and a CSV import.
func TestAttributeTriggerWritePaths(t *testing.T) {
	t.Parallel()
	b, _, js := uitest.SetupProfiles(t)
	publish := func(doc string) string {
		j, _, err := js.Create(b.Ctx, store.DefaultWorkspaceID, []byte(doc), "test", journeys.SaveOptions{})
		require.NoError(t, err)
		_, err = js.Publish(b.Ctx, store.DefaultWorkspaceID, j.ID, "test")
		require.NoError(t, err)
		return j.ID
	}
	upgraded, moved := publish(upgradeJourney), publish(movedJourney)
	runs := func(jid string) []store.Run {
		t.Helper()
		rs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 100})
		require.NoError(t, err)
		return rs
	}
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")
	post := func(path, body string, status int) {
		t.Helper()
		res := b.Call("POST", path, w, []byte(body))
		require.Equal(t, status, res.Status, string(res.Body))
	}

	// The profile API.
	post("/api/v1/profiles", `{"external_id": "u1", "timezone": "Europe/Paris", "attributes": {"plan": "trial"}}`, 201)
	require.Empty(t, runs(upgraded), "created as trial: not trial→pro")
	require.Empty(t, runs(moved), "no old time zone: the condition says no")
	post("/api/v1/profiles", `{"external_id": "u1", "timezone": "Asia/Tokyo", "attributes": {"plan": "pro"}}`, 200)
	require.Len(t, runs(upgraded), 1)
	require.Len(t, runs(moved), 1, "a built-in field is an attribute for the trigger")
	var entry struct {
		Name       string         `json:"name"`
		Properties map[string]any `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(runs(upgraded)[0].EntryEvent, &entry))
	require.Equal(t, "trigger_attribute", entry.Name)
	require.Equal(t, map[string]any{"attribute": "plan", "old": "trial", "new": "pro", "source": "api", "depth": float64(0)}, entry.Properties)
	post("/api/v1/profiles", `{"external_id": "u1", "attributes": {"plan": "pro"}}`, 200)
	require.Len(t, runs(upgraded), 1, "no change, no entry")

	// An event's profile.
	post("/api/v1/profiles", `{"external_id": "u2", "attributes": {"plan": "trial"}}`, 201)
	post("/api/v1/events", `{"name": "upgraded", "profile_id": "u2", "profile": {"attributes": {"plan": "pro"}}}`, 202)
	require.Len(t, runs(upgraded), 2)

	// A bad write changes nothing and enters nothing.
	res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u2", "timezone": "Mars/Olympus", "attributes": {"plan": "trial"}}`))
	require.Equal(t, 422, res.Status)
	require.Contains(t, string(res.Body), `"field":"timezone"`)
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u2")
	require.NoError(t, err)
	require.Equal(t, "pro", p.Attributes["plan"])

	// A CSV import through the import page.
	post("/api/v1/profiles", `{"external_id": "u3", "attributes": {"plan": "trial"}}`, 201)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleAdmin)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")
	_, html := c.Get("/profiles/import")
	token := uitest.CSRFFrom(t, html)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("_csrf", token))
	fw, err := mw.CreateFormFile("file", "plans.csv")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("external_id,plan\nu3,pro\nu4,pro\n"))
	require.NoError(t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "/profiles/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := c.Do(req)
	require.Equal(t, 200, resp.StatusCode)
	action := uitest.RegexpFind(t, uitest.ReadAll(resp), `action="(/profiles/import/[^"]+/start)"`)
	resp, _ = c.PostForm(action, url.Values{"_csrf": {token}, "map.external_id": {"external_id"}, "map.plan": {"attributes.plan"}})
	require.Equal(t, 303, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Eventually(t, func() bool {
		_, page := c.Get(loc + "/progress")
		return strings.Contains(page, `data-testid="import-status" data-status="done">Done<`)
	}, 5*time.Second, 20*time.Millisecond)
	rs := runs(upgraded)
	require.Len(t, rs, 3, "u3 went trial→pro; u4 was created as pro (no from)")
	sources := map[string]bool{}
	for _, r := range rs {
		require.NoError(t, json.Unmarshal(r.EntryEvent, &entry))
		sources[entry.Properties["source"].(string)] = true
	}
	require.Equal(t, map[string]bool{"api": true, "event": true, "import": true}, sources)
}

// A journey with an attribute trigger is refused with the field named
// when its attribute cannot be watched.
func TestAttributeTriggerValidation(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	for _, tc := range []struct{ config, field, message string }{
		{`{"attribute": "external_id"}`, "attribute", "external_id cannot be changed"},
		{`{"attribute": "plan-type"}`, "attribute", "not a valid attribute name"},
		{`{}`, "attribute", "required"},
		{`{"attribute": "plan", "expr": "change.nope"}`, "expr", "nope"},
	} {
		doc := `{"format": 1, "name": "Bad", "nodes": [{"id": "t", "kind": "trigger_attribute", "config": ` + tc.config + `}, {"id": "x", "kind": "exit"}],
			"edges": [{"from": "t", "to": "x"}]}`
		res := b.Call("POST", "/api/v1/journeys", admin, []byte(doc))
		require.Equal(t, 422, res.Status, "%s: %s", tc.config, res.Body)
		require.Contains(t, string(res.Body), `"field":"`+tc.field+`"`, tc.config)
		require.Contains(t, string(res.Body), tc.message, tc.config)
	}
}
