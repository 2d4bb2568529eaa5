package web_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func estimateJSON(t *testing.T, c *uitest.Client, csrf, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/segments/estimate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp := c.Do(req)
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return resp.StatusCode, out
}

// The Segments pages without a browser: an editor saves from the form
// (a bad rule re-renders the form naming it, with what was typed), the
// estimate route answers JSON, the list counts on demand, delete; a
// viewer reads and estimates (no sample) but cannot change anything.
func TestSegmentPages(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	upsertProfile(t, b, "a", "a@example.com", map[string]any{"plan": "pro"})
	upsertProfile(t, b, "b", "b@example.com", map[string]any{"plan": "free"})

	ed := b.Client()
	csrf := ed.Login("ed@example.com", "correct horse battery")
	resp, page := ed.Get("/segments/new")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="segment-save"`)
	require.Contains(t, html.UnescapeString(page), `{"name":"plan","type":"string"}`, "the field picker knows the attributes")

	bad := `{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"},{"attribute":"age","type":"number","op":"gt","value":"old"}]}`
	resp, page = ed.PostForm("/segments", url.Values{"_csrf": {csrf}, "name": {"pros"}, "mode": {"rules"}, "rules": {bad}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, page, `<code>rules[1].value</code>: must be a number`)
	require.Contains(t, page, `value="pros"`, "what was typed is kept")
	resp, page = ed.PostForm("/segments", url.Values{"_csrf": {csrf}, "name": {"pros"}, "mode": {"rules"}, "rules": {`{"match":`}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, page, "not valid JSON")

	good := `{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"}]}`
	resp, _ = ed.PostForm("/segments", url.Values{"_csrf": {csrf}, "name": {"pros"}, "description": {"paying"}, "mode": {"rules"}, "rules": {good}})
	require.Equal(t, 303, resp.StatusCode)
	seg, err := b.Store.GetSegmentByName(b.Ctx, store.DefaultWorkspaceID, "pros")
	require.NoError(t, err)
	require.Equal(t, `profile.plan == "pro"`, seg.Expr)
	require.Equal(t, "/segments/"+seg.ID+"?saved=1", resp.Header.Get("Location"))
	resp, page = ed.PostForm("/segments/"+seg.ID, url.Values{"_csrf": {csrf}, "name": {"pros"}, "mode": {"expr"}, "expr": {`profile.plan != "free"`}})
	require.Equal(t, 303, resp.StatusCode, page)

	status, est := estimateJSON(t, ed, csrf, `{"rules": `+good+`}`)
	require.Equal(t, 200, status)
	require.Equal(t, "1 profile", est["text"])
	require.Len(t, est["sample"], 1)
	status, est = estimateJSON(t, ed, csrf, `{"rules": {"match":"all","rules":[{"field":"email","op":"like","value":"x"}]}}`)
	require.Equal(t, 422, status)
	require.Equal(t, "rules[0].op", est["problems"].([]any)[0].(map[string]any)["field"])

	resp, page = ed.Get("/segments/" + seg.ID + "/count")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "1 profile")

	// A viewer reads, estimates without a sample, and changes nothing.
	vi := b.Client()
	vcsrf := vi.Login("vi@example.com", "correct horse battery")
	resp, page = vi.Get("/segments/" + seg.ID)
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, `data-testid="segment-save"`)
	require.Contains(t, page, "<fieldset disabled")
	status, est = estimateJSON(t, vi, vcsrf, `{"expr": "true"}`)
	require.Equal(t, 200, status)
	require.Equal(t, "2 profiles", est["text"])
	require.Empty(t, est["sample"])
	resp, _ = vi.PostForm("/segments/"+seg.ID+"/delete", url.Values{"_csrf": {vcsrf}})
	require.Equal(t, 403, resp.StatusCode)

	resp, _ = ed.PostForm("/segments/"+seg.ID+"/delete", url.Values{"_csrf": {csrf}})
	require.Equal(t, 303, resp.StatusCode)
	resp, _ = ed.Get("/segments/" + seg.ID)
	require.Equal(t, 404, resp.StatusCode)
	resp, page = ed.Get("/segments")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "No segments yet.")
}
