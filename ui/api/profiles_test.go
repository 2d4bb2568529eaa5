package api_test

import (
	"bytes"
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

const proSegment = `{"format": 1, "name": "Pro", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_segment", "config": {"expr": "profile.plan == \"pro\""}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1d"}},
	{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hi"}]}`

func TestSegmentEntryThroughProfilesAPI(t *testing.T) {
	t.Parallel()
	b, _, js := uitest.SetupProfiles(t)
	j, _, err := js.Create(b.Ctx, store.DefaultWorkspaceID, []byte(proSegment), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = js.Publish(b.Ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")

	res := b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": "free"}}`))
	require.Equal(t, 201, res.Status, string(res.Body))
	n, _ := b.Store.CountRuns(b.Ctx, j.ID, "")
	require.Zero(t, n)
	res = b.Call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": "pro"}}`))
	require.Equal(t, 200, res.Status)
	n, _ = b.Store.CountRuns(b.Ctx, j.ID, "")
	require.EqualValues(t, 1, n, "started matching: entered")
	res = b.Call("POST", "/api/v1/events", w, []byte(`{"name": "login", "profile_id": "u1", "profile": {"attributes": {"x": 1}}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	n, _ = b.Store.CountRuns(b.Ctx, j.ID, "")
	require.EqualValues(t, 1, n, "still matching: no second entry")
	res = b.Call("POST", "/api/v1/events", w, []byte(`{"name": "signup", "profile_id": "u2", "profile": {"attributes": {"plan": "pro"}}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	n, _ = b.Store.CountRuns(b.Ctx, j.ID, "")
	require.EqualValues(t, 2, n, "an event carrying a matching profile enters it")
}

func TestProfileExportAndErasure(t *testing.T) {
	t.Parallel()
	b, er, js := uitest.SetupProfiles(t)
	j, _, err := js.Create(b.Ctx, store.DefaultWorkspaceID, []byte(proSegment), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = js.Publish(b.Ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	w := b.APIKey(store.DefaultWorkspaceID, "profiles:write", "events:write")
	r := b.APIKey(store.DefaultWorkspaceID, "profiles:read")

	res := b.Call("POST", "/api/v1/events", w, []byte(`{"name": "signup", "profile_id": "ada", "properties": {"source": "ads"},
		"profile": {"email": "ada@example.com", "phone": "+33612345678", "attributes": {"plan": "pro"}, "consent": {"email": "granted"}}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine) // the run waits on its delay

	res = b.Call("GET", "/api/v1/profiles/ada/export", r, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	x := res.JSON(t)
	require.Equal(t, "ada@example.com", x["profile"].(map[string]any)["email"])
	require.Equal(t, "granted", x["consent"].(map[string]any)["email"].(map[string]any)["status"])
	require.Len(t, x["events"], 1)
	runs := x["runs"].([]any)
	require.Len(t, runs, 1)
	require.NotEmpty(t, runs[0].(map[string]any)["steps"])
	require.Equal(t, 403, b.Call("GET", "/api/v1/profiles/ada/export", w, nil).Status, "export needs profiles:read")
	require.Equal(t, 404, b.Call("GET", "/api/v1/profiles/nobody/export", r, nil).Status)

	require.Equal(t, 403, b.Call("DELETE", "/api/v1/profiles/ada", r, nil).Status, "erasure needs profiles:write")
	res = b.Call("DELETE", "/api/v1/profiles/ada", w, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Equal(t, float64(1), res.JSON(t)["runs_cancelled"])
	require.Len(t, er.Members, 1)
	require.Equal(t, "ada@example.com", er.Members[0].Email, "audience removal queued with the identifiers")

	tomb, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, store.ErasedExternalID("ada"))
	require.NoError(t, err)
	require.NotNil(t, tomb.ErasedAt)
	require.Empty(t, tomb.Email)
	require.Empty(t, tomb.Phone)
	require.Empty(t, tomb.Attributes)
	require.Empty(t, tomb.Consent)
	runList, err := b.Store.ListProfileRuns(b.Ctx, tomb.ID, "", time.Time{})
	require.NoError(t, err)
	require.Len(t, runList, 1, "the run stays for counts")
	require.Equal(t, store.RunExited, runList[0].Status)
	b.Drain(b.Engine)
	msgs, _, err := b.Store.ListDeliveries(b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{})
	require.NoError(t, err)
	require.Empty(t, msgs, "queued work became a no-op")

	res = b.Call("DELETE", "/api/v1/profiles/ada", w, nil)
	require.Equal(t, 200, res.Status, "idempotent")
	require.Equal(t, true, res.JSON(t)["already_erased"])
	require.Len(t, er.Members, 1)
	require.Equal(t, 404, b.Call("GET", "/api/v1/profiles/ada", r, nil).Status)
	require.Equal(t, 404, b.Call("DELETE", "/api/v1/profiles/never-existed", w, nil).Status)
	entries, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{})
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		found = found || e.Action == "profile.erase"
	}
	require.True(t, found, "audited")
}

func TestProfileImportPage(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupProfiles(t)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleAdmin)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")
	resp, html := c.Get("/profiles/import")
	require.Equal(t, 200, resp.StatusCode, html)
	token := uitest.CSRFFrom(t, html)

	csv := "user_id,Email,plan,phone\nu1,a@example.com,pro,+33612345678\nu2,not-an-email,free,\n,b@example.com,pro,\nu3,c@example.com,pro,0612\n"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("_csrf", token))
	fw, err := mw.CreateFormFile("file", "people.csv")
	require.NoError(t, err)
	_, _ = fw.Write([]byte(csv))
	require.NoError(t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "/profiles/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp = c.Do(req)
	require.Equal(t, 200, resp.StatusCode)
	page := uitest.ReadAll(resp)
	require.Contains(t, page, `data-testid="import-preview"`)
	require.Contains(t, page, "a@example.com", "preview shows the first rows")
	action := uitest.RegexpFind(t, page, `action="(/profiles/import/[^"]+/start)"`)

	// No column maps to external_id: 422 naming the mapping.
	resp, html = c.PostForm(action, url.Values{"_csrf": {token}, "map.user_id": {"-"}, "map.Email": {"email"}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, html, "external_id")

	resp, _ = c.PostForm(action, url.Values{"_csrf": {token}, "map.user_id": {"external_id"}, "map.Email": {"email"},
		"map.plan": {"attributes.plan"}, "map.phone": {"phone"}})
	require.Equal(t, 303, resp.StatusCode)
	loc := resp.Header.Get("Location")
	var html2 string
	require.Eventually(t, func() bool {
		_, html2 = c.Get(loc + "/progress")
		return strings.Contains(html2, `data-testid="import-status" data-status="done">Done<`)
	}, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, html2, "4 rows read, 1 imported, 3 rejected")
	require.Contains(t, html2, "<td>3</td><td>Email</td>", "line 3: bad email, named by its column")
	require.Contains(t, html2, "<td>4</td><td>user_id</td>")
	require.Contains(t, html2, "<td>5</td><td>phone</td>")
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	require.Equal(t, "pro", p.Attributes["plan"])
	_, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u2")
	require.ErrorIs(t, err, store.ErrNotFound, "an invalid row writes nothing")

	// CSRF is enforced.
	resp, _ = c.PostForm(action, url.Values{"map.user_id": {"external_id"}})
	require.Equal(t, 403, resp.StatusCode)
	// Viewers may not import.
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	v := b.Client()
	v.Login("vi@example.com", "correct horse battery")
	resp, _ = v.Get("/profiles/import")
	require.Equal(t, 403, resp.StatusCode)
}
