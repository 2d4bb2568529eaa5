package ui_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/store"
)

const hookJourney = `{"format": 1, "name": "Hooked", "settings": {"reentry": "never"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>{{ event.body.plan }}</p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

// postHook sends a Standard Webhooks request to path, signed with secret
// (ts zero: now).
func (b *testBundle) postHook(path, secret, id string, ts time.Time, body []byte) apiResp {
	b.t.Helper()
	if ts.IsZero() {
		ts = time.Now()
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		key, err := webhook.DecodeSecret(secret)
		require.NoError(b.t, err)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("webhook-signature", webhook.Sign(key, id, ts.Unix(), body))
	}
	resp, err := b.server.App().Test(req, -1)
	require.NoError(b.t, err)
	out := new(bytes.Buffer)
	_, _ = out.ReadFrom(resp.Body)
	return apiResp{status: resp.StatusCode, header: resp.Header, body: out.Bytes()}
}

func TestWebhookTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	res := b.call("POST", "/api/v1/journeys", admin, []byte(hookJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)

	res = b.call("GET", "/api/v1/journeys/"+jid+"/hook", b.apiKey(store.DefaultWorkspaceID, "journeys:read"), nil)
	require.Equal(t, 403, res.status, "the signing secret is for admins")
	res = b.call("GET", "/api/v1/journeys/"+jid+"/hook", admin, nil)
	require.Equal(t, 200, res.status, string(res.body))
	hook := res.json(t)
	url := hook["url"].(string)
	path := url[len("http://waymark.test"):]
	secret := hook["secrets"].([]any)[0].(string)
	require.Regexp(t, `^/hooks/wh_`, path)

	body := []byte(`{"user": {"id": "u-1", "email": "ada@example.com"}, "plan": "pro"}`)
	res = b.postHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 409, res.status, "not live yet: %s", res.body)

	res = b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.status, string(res.body))
	res = b.postHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 202, res.status, string(res.body))
	runID := res.json(t)["run_id"].(string)
	run, err := b.store.GetRun(b.ctx, runID)
	require.NoError(t, err)
	p, err := b.store.GetProfile(b.ctx, run.ProfileID)
	require.NoError(t, err)
	require.Equal(t, "u-1", p.ExternalID)
	require.Equal(t, "ada@example.com", p.Email)
	require.Contains(t, string(run.EntryEvent), `"plan":"pro"`)
	require.NotContains(t, string(run.EntryEvent), "webhook-signature", "credentials are not kept")

	// The same webhook-id again: refused, pointing at the first run.
	res = b.postHook(path, secret, "msg_1", time.Time{}, body)
	require.Equal(t, 409, res.status)
	require.Contains(t, string(res.body), runID)

	// Re-entry "never": a new delivery for the same user enters nothing.
	res = b.postHook(path, secret, "msg_2", time.Time{}, body)
	require.Equal(t, 200, res.status, string(res.body))
	require.Equal(t, false, res.json(t)["entered"])

	tests := []struct {
		name, secret, id string
		ts               time.Time
		body             []byte
		status           int
		code             string
	}{
		{"no signature", "", "", time.Time{}, body, 401, "missing_signature"},
		{"wrong secret", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m3", time.Time{}, body, 401, "bad_signature"},
		{"six minutes old", secret, "m4", time.Now().Add(-6 * time.Minute), body, 401, "stale_timestamp"},
		{"malformed JSON", secret, "m5", time.Time{}, []byte(`{"user": `), 400, "bad_request"},
		{"no profile id", secret, "m6", time.Time{}, []byte(`{"user": {"email": "x@example.com"}}`), 422, "unmapped_profile"},
		{"bad email", secret, "m7", time.Time{}, []byte(`{"user": {"id": "u-9", "email": "not-an-email"}}`), 422, "unmapped_profile"},
		{"NUL in the profile id", secret, "m11", time.Time{}, []byte(`{"user": {"id": "u-9\u0000"}}`), 422, "nul_character"},
		{"NUL elsewhere in the body", secret, "m12", time.Time{}, []byte(`{"user": {"id": "u-9"}, "note": "a\u0000b"}`), 422, "nul_character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.postHook(path, tt.secret, tt.id, tt.ts, tt.body)
			require.Equal(t, tt.status, res.status, string(res.body))
			require.Equal(t, tt.code, res.json(t)["error"].(map[string]any)["code"])
		})
	}
	res = b.postHook("/hooks/wh_unknown", secret, "m8", time.Time{}, body)
	require.Equal(t, 404, res.status)
	_, err = b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "u-9")
	require.ErrorIs(t, err, store.ErrNotFound, "refused requests create nothing")

	// An escaped backslash before "u0000" is text, not a NUL.
	res = b.postHook(path, secret, "m13", time.Time{}, []byte(`{"user": {"id": "u-13"}, "note": "C:\\u0000"}`))
	require.Equal(t, 202, res.status, string(res.body))

	// A failed request's webhook-id can be retried; a refused one too.
	res = b.postHook(path, secret, "m6", time.Time{}, []byte(`{"user": {"id": "u-6"}}`))
	require.Equal(t, 202, res.status, string(res.body))

	// Rotation: the old secret keeps working during the grace period.
	res = b.call("POST", "/api/v1/journeys/"+jid+"/hook/rotate", admin, nil)
	require.Equal(t, 200, res.status)
	secrets := res.json(t)["secrets"].([]any)
	require.Len(t, secrets, 2)
	res = b.postHook(path, secrets[0].(string), "m9", time.Time{}, []byte(`{"user": {"id": "u-10"}}`))
	require.Equal(t, 202, res.status, string(res.body))
	res = b.postHook(path, secret, "m10", time.Time{}, []byte(`{"user": {"id": "u-11"}}`))
	require.Equal(t, 202, res.status, string(res.body))

	res = b.call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "smoke-signals"}`))
	require.Equal(t, 400, res.status)
	res = b.call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "github"}`))
	require.Equal(t, 200, res.status)
	res = b.call("GET", "/api/v1/journeys/"+jid+"/hook", b.apiKey("acme", "admin"), nil)
	require.Equal(t, 404, res.status, "another workspace")
	require.Equal(t, http.StatusOK, 200)
}
