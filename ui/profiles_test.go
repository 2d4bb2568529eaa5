package ui_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

type erasures struct{ members []connectors.Member }

// setupProfiles is setup with the profile service and segment triggers
// wired as cmd wires them.
func setupProfiles(t *testing.T) (*testBundle, *erasures, *journeys.Service) {
	t.Helper()
	b := setup(t)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	trig := worker.NewTriggers(b.engine, b.store, nil, worker.TriggersConfig{})
	er := &erasures{}
	svc := profiles.NewService(b.store, b.engine, func(_ context.Context, _ string, m connectors.Member) error {
		er.members = append(er.members, m)
		return nil
	}, func(ctx context.Context, p store.Profile) { _, _ = trig.ProfileChanged(ctx, p) }, nil)
	js := journeys.New(b.store, reg)
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: b.store, Journeys: js, Engine: b.engine, Profiles: svc,
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.server = srv
	return b, er, js
}

const proSegment = `{"format": 1, "name": "Pro", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_segment", "config": {"expr": "profile.plan == \"pro\""}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1d"}},
	{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hi"}]}`

func TestSegmentEntryThroughProfilesAPI(t *testing.T) {
	t.Parallel()
	b, _, js := setupProfiles(t)
	j, _, err := js.Create(b.ctx, store.DefaultWorkspaceID, []byte(proSegment), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = js.Publish(b.ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	w := b.apiKey(store.DefaultWorkspaceID, "profiles:write", "events:write")

	res := b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": "free"}}`))
	require.Equal(t, 201, res.status, string(res.body))
	n, _ := b.store.CountRuns(b.ctx, j.ID, "")
	require.Zero(t, n)
	res = b.call("POST", "/api/v1/profiles", w, []byte(`{"external_id": "u1", "attributes": {"plan": "pro"}}`))
	require.Equal(t, 200, res.status)
	n, _ = b.store.CountRuns(b.ctx, j.ID, "")
	require.EqualValues(t, 1, n, "started matching: entered")
	res = b.call("POST", "/api/v1/events", w, []byte(`{"name": "login", "profile_id": "u1", "profile": {"attributes": {"x": 1}}}`))
	require.Equal(t, 202, res.status, string(res.body))
	n, _ = b.store.CountRuns(b.ctx, j.ID, "")
	require.EqualValues(t, 1, n, "still matching: no second entry")
	res = b.call("POST", "/api/v1/events", w, []byte(`{"name": "signup", "profile_id": "u2", "profile": {"attributes": {"plan": "pro"}}}`))
	require.Equal(t, 202, res.status, string(res.body))
	n, _ = b.store.CountRuns(b.ctx, j.ID, "")
	require.EqualValues(t, 2, n, "an event carrying a matching profile enters it")
}

func TestProfileExportAndErasure(t *testing.T) {
	t.Parallel()
	b, er, js := setupProfiles(t)
	j, _, err := js.Create(b.ctx, store.DefaultWorkspaceID, []byte(proSegment), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = js.Publish(b.ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	w := b.apiKey(store.DefaultWorkspaceID, "profiles:write", "events:write")
	r := b.apiKey(store.DefaultWorkspaceID, "profiles:read")

	res := b.call("POST", "/api/v1/events", w, []byte(`{"name": "signup", "profile_id": "ada", "properties": {"source": "ads"},
		"profile": {"email": "ada@example.com", "phone": "+33612345678", "attributes": {"plan": "pro"}, "consent": {"email": "granted"}}}`))
	require.Equal(t, 202, res.status, string(res.body))
	b.drain(b.engine) // the run waits on its delay

	res = b.call("GET", "/api/v1/profiles/ada/export", r, nil)
	require.Equal(t, 200, res.status, string(res.body))
	x := res.json(t)
	require.Equal(t, "ada@example.com", x["profile"].(map[string]any)["email"])
	require.Equal(t, "granted", x["consent"].(map[string]any)["email"].(map[string]any)["status"])
	require.Len(t, x["events"], 1)
	runs := x["runs"].([]any)
	require.Len(t, runs, 1)
	require.NotEmpty(t, runs[0].(map[string]any)["steps"])
	require.Equal(t, 403, b.call("GET", "/api/v1/profiles/ada/export", w, nil).status, "export needs profiles:read")
	require.Equal(t, 404, b.call("GET", "/api/v1/profiles/nobody/export", r, nil).status)

	require.Equal(t, 403, b.call("DELETE", "/api/v1/profiles/ada", r, nil).status, "erasure needs profiles:write")
	res = b.call("DELETE", "/api/v1/profiles/ada", w, nil)
	require.Equal(t, 200, res.status, string(res.body))
	require.Equal(t, float64(1), res.json(t)["runs_cancelled"])
	require.Len(t, er.members, 1)
	require.Equal(t, "ada@example.com", er.members[0].Email, "audience removal queued with the identifiers")

	tomb, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, store.ErasedExternalID("ada"))
	require.NoError(t, err)
	require.NotNil(t, tomb.ErasedAt)
	require.Empty(t, tomb.Email)
	require.Empty(t, tomb.Phone)
	require.Empty(t, tomb.Attributes)
	require.Empty(t, tomb.Consent)
	runList, err := b.store.ListProfileRuns(b.ctx, tomb.ID, "", time.Time{})
	require.NoError(t, err)
	require.Len(t, runList, 1, "the run stays for counts")
	require.Equal(t, store.RunExited, runList[0].Status)
	b.drain(b.engine)
	msgs, _, err := b.store.ListDeliveries(b.ctx, store.DefaultWorkspaceID, store.DeliveryFilter{})
	require.NoError(t, err)
	require.Empty(t, msgs, "queued work became a no-op")

	res = b.call("DELETE", "/api/v1/profiles/ada", w, nil)
	require.Equal(t, 200, res.status, "idempotent")
	require.Equal(t, true, res.json(t)["already_erased"])
	require.Len(t, er.members, 1)
	require.Equal(t, 404, b.call("GET", "/api/v1/profiles/ada", r, nil).status)
	require.Equal(t, 404, b.call("DELETE", "/api/v1/profiles/never-existed", w, nil).status)
	entries, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{})
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		found = found || e.Action == "profile.erase"
	}
	require.True(t, found, "audited")
}

func TestProfileImportPage(t *testing.T) {
	t.Parallel()
	b, _, _ := setupProfiles(t)
	b.createUser("ed@example.com", "correct horse battery", store.RoleAdmin)
	c := b.client()
	c.login("ed@example.com", "correct horse battery")
	resp, html := c.get("/profiles/import")
	require.Equal(t, 200, resp.StatusCode, html)
	token := csrfFrom(t, html)

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
	resp = c.do(req)
	require.Equal(t, 200, resp.StatusCode)
	page := readAll(resp)
	require.Contains(t, page, `data-testid="import-preview"`)
	require.Contains(t, page, "a@example.com", "preview shows the first rows")
	action := regexpFind(t, page, `action="(/profiles/import/[^"]+/start)"`)

	// No column maps to external_id: 422 naming the mapping.
	resp, html = c.postForm(action, url.Values{"_csrf": {token}, "map.user_id": {"-"}, "map.Email": {"email"}})
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, html, "external_id")

	resp, _ = c.postForm(action, url.Values{"_csrf": {token}, "map.user_id": {"external_id"}, "map.Email": {"email"},
		"map.plan": {"attributes.plan"}, "map.phone": {"phone"}})
	require.Equal(t, 303, resp.StatusCode)
	loc := resp.Header.Get("Location")
	var html2 string
	require.Eventually(t, func() bool {
		_, html2 = c.get(loc + "/progress")
		return strings.Contains(html2, `data-testid="import-status">done<`)
	}, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, html2, "4 rows read, 1 imported, 3 rejected")
	require.Contains(t, html2, "<td>3</td><td>Email</td>", "line 3: bad email, named by its column")
	require.Contains(t, html2, "<td>4</td><td>user_id</td>")
	require.Contains(t, html2, "<td>5</td><td>phone</td>")
	p, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "u1")
	require.NoError(t, err)
	require.Equal(t, "pro", p.Attributes["plan"])
	_, err = b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "u2")
	require.ErrorIs(t, err, store.ErrNotFound, "an invalid row writes nothing")

	// CSRF is enforced.
	resp, _ = c.postForm(action, url.Values{"map.user_id": {"external_id"}})
	require.Equal(t, 403, resp.StatusCode)
	// Viewers may not import.
	b.createUser("vi@example.com", "correct horse battery", store.RoleViewer)
	v := b.client()
	v.login("vi@example.com", "correct horse battery")
	resp, _ = v.get("/profiles/import")
	require.Equal(t, 403, resp.StatusCode)
}

func readAll(resp *http.Response) string {
	var sb strings.Builder
	_, _ = io.Copy(&sb, resp.Body)
	return sb.String()
}

func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	require.NotNil(t, m, pattern)
	return m[1]
}
