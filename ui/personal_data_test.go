package ui_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/store"
)

// personalJourney enters from a webhook, writes an attribute from the body
// and sends an email whose subject is rendered from the profile.
const personalJourney = `{"format": 1, "name": "Personal", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "note", "kind": "update_profile", "config": {"assignments": [{"attribute": "diagnosis", "expr": "event.body.diagnosis"}]}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Your {{ profile.diagnosis }} plan", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "note"}, {"from": "note", "to": "hello"}]}`

// personalRun publishes personalJourney, sends it one webhook with
// credential-like headers among ordinary ones, runs it, and returns the run.
func (b *testBundle) personalRun() store.Run {
	t := b.t
	t.Helper()
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	res := b.call("POST", "/api/v1/journeys", admin, []byte(personalJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	require.Equal(t, 200, b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).status)
	res = b.call("GET", "/api/v1/journeys/"+jid+"/hook", admin, nil)
	require.Equal(t, 200, res.status, string(res.body))
	hook := res.json(t)
	path := strings.TrimPrefix(hook["url"].(string), "http://waymark.test")
	secret := hook["secrets"].([]any)[0].(string)

	body := []byte(`{"user": {"id": "ada", "email": "ada.private@example.com"}, "diagnosis": "sensitive-condition"}`)
	res = b.postHookWith(path, secret, "msg_p1", body,
		"Authorization", "Bearer SECRET-AUTHZ", "Cookie", "session=SECRET-COOKIE", "Proxy-Authorization", "Basic SECRET-PROXY",
		"X-Api-Key", "SECRET-XAPIKEY", "X-Auth-Token", "SECRET-XAUTH", "X-Client-Secret", "SECRET-CLIENT", "X-Db-Password", "SECRET-PW",
		"X-Session-Cookie", "SECRET-SC", "X-Shop-Domain", "shop.example.com")
	require.Equal(t, 202, res.status, string(res.body))
	b.drain(b.engine)
	run, err := b.store.GetRun(b.ctx, res.json(t)["run_id"].(string))
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)
	return run
}

// Credential-like headers are never stored in a webhook run's entry event
// (security review F9); ordinary headers are.
func TestHookEntryDropsCredentialHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	entry := string(b.personalRun().EntryEvent)
	require.Contains(t, entry, "shop.example.com")
	require.NotContains(t, entry, "SECRET", "no credential header is stored")
	for _, h := range []string{"authorization", "cookie", "x-api-key", "x-auth-token", "x-client-secret", "x-db-password", "webhook-signature"} {
		require.NotContains(t, strings.ToLower(entry), `"`+h, h)
	}
}

// Recipients, rendered subjects, the entry event and the attribute values
// a step wrote are personal data: a viewer's run page and a journeys:read
// key's GET /api/v1/runs/{id} leave them out; profile readers see them
// (security review F6).
func TestRunPersonalDataNeedsProfilesRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	runID := b.personalRun().ID

	secrets := []string{"ada.private@example.com", "sensitive-condition"}

	// The UI: a viewer sees the run's path, not its personal data.
	b.createUser("vi@example.com", "correct horse battery", store.RoleViewer)
	b.createUser("ed@example.com", "correct horse battery", store.RoleEditor)
	vi := b.client()
	vi.login("vi@example.com", "correct horse battery")
	resp, page := vi.get("/runs/" + runID)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-node-id="hello"`, "the timeline is there")
	require.Contains(t, page, `data-testid="delivery-row"`, "and the message")
	for _, s := range secrets {
		require.NotContains(t, page, s)
	}
	require.NotContains(t, page, `data-testid="delivery-recipient"`)
	require.NotContains(t, page, `data-testid="run-entry"`)
	require.Contains(t, page, `data-testid="step-details-hidden"`)
	require.Contains(t, page, `data-testid="personal-hidden"`, "the page says what it leaves out")

	ed := b.client()
	ed.login("ed@example.com", "correct horse battery")
	resp, page = ed.get("/runs/" + runID)
	require.Equal(t, 200, resp.StatusCode)
	for _, s := range secrets {
		require.Contains(t, page, s, "profile readers see it")
	}
	require.Contains(t, page, "Your sensitive-condition plan")
	require.NotContains(t, page, `data-testid="personal-hidden"`)

	// The API: journeys:read alone gets no recipient, subject, entry or
	// written values; with profiles:read it gets them all.
	type runBody struct {
		Steps []struct {
			Kind         string         `json:"kind"`
			Detail       map[string]any `json:"detail"`
			DetailHidden bool           `json:"detail_hidden"`
		} `json:"steps"`
		Deliveries []map[string]any `json:"deliveries"`
		Entry      json.RawMessage  `json:"entry"`
		Hidden     bool             `json:"personal_data_hidden"`
	}
	get := func(key string) (runBody, string) {
		t.Helper()
		res := b.call("GET", "/api/v1/runs/"+runID, key, nil)
		require.Equal(t, 200, res.status, string(res.body))
		var rb runBody
		require.NoError(t, json.Unmarshal(res.body, &rb))
		return rb, string(res.body)
	}
	rb, raw := get(b.apiKey(store.DefaultWorkspaceID, "journeys:read"))
	for _, s := range secrets {
		require.NotContains(t, raw, s)
	}
	require.NotContains(t, raw, "shop.example.com", "no entry headers")
	require.True(t, rb.Hidden)
	require.Nil(t, rb.Entry)
	require.Len(t, rb.Deliveries, 1)
	require.NotContains(t, rb.Deliveries[0], "recipient")
	require.NotContains(t, rb.Deliveries[0], "subject")
	require.Equal(t, "delivered", rb.Deliveries[0]["status"], "the rest of the message is there")
	for _, st := range rb.Steps {
		if st.Kind == "update_profile" {
			require.True(t, st.DetailHidden)
			require.Nil(t, st.Detail)
		}
	}

	for _, key := range []string{b.apiKey(store.DefaultWorkspaceID, "journeys:read", "profiles:read"), admin} {
		rb, raw = get(key)
		for _, s := range secrets {
			require.Contains(t, raw, s)
		}
		require.False(t, rb.Hidden)
		require.Contains(t, string(rb.Entry), "shop.example.com")
		require.Equal(t, "ada.private@example.com", rb.Deliveries[0]["recipient"])
		require.Equal(t, "Your sensitive-condition plan", rb.Deliveries[0]["subject"])
	}
}

// postHookWith is postHook, signed now, with extra request headers (name,
// value pairs).
func (b *testBundle) postHookWith(path, secret, id string, body []byte, header ...string) apiResp {
	b.t.Helper()
	key, err := webhook.DecodeSecret(secret)
	require.NoError(b.t, err)
	ts := time.Now().Unix()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhook.Sign(key, id, ts, body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.server.App().Test(req, -1)
	require.NoError(b.t, err)
	out, _ := io.ReadAll(resp.Body)
	return apiResp{status: resp.StatusCode, header: resp.Header, body: out}
}
