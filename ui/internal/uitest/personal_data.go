package uitest

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/store"
)

// personalJourney enters from a webhook, writes an attribute from the body
// and sends an email whose subject is rendered from the profile.
const PersonalJourney = `{"format": 1, "name": "Personal", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "note", "kind": "update_profile", "config": {"assignments": [{"attribute": "diagnosis", "expr": "event.body.diagnosis"}]}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Your {{ profile.diagnosis }} plan", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "note"}, {"from": "note", "to": "hello"}]}`

// personalRun publishes personalJourney, sends it one webhook with
// credential-like headers among ordinary ones, runs it, and returns the run.
func (b *Bundle) PersonalRun() store.Run {
	t := b.T
	t.Helper()
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(PersonalJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/hook", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	hook := res.JSON(t)
	path := strings.TrimPrefix(hook["url"].(string), "http://waymark.test")
	secret := hook["secrets"].([]any)[0].(string)

	body := []byte(`{"user": {"id": "ada", "email": "ada.private@example.com"}, "diagnosis": "sensitive-condition"}`)
	res = b.PostHookWith(path, secret, "msg_p1", body,
		"Authorization", "Bearer SECRET-AUTHZ", "Cookie", "session=SECRET-COOKIE", "Proxy-Authorization", "Basic SECRET-PROXY",
		"X-Api-Key", "SECRET-XAPIKEY", "X-Auth-Token", "SECRET-XAUTH", "X-Client-Secret", "SECRET-CLIENT", "X-Db-Password", "SECRET-PW",
		"X-Session-Cookie", "SECRET-SC", "X-Shop-Domain", "shop.example.com")
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine)
	run, err := b.Store.GetRun(b.Ctx, res.JSON(t)["run_id"].(string))
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)
	return run
}

// postHookWith is postHook, signed now, with extra request headers (name,
// value pairs).
func (b *Bundle) PostHookWith(path, secret, id string, body []byte, header ...string) APIResp {
	b.T.Helper()
	key, err := webhook.DecodeSecret(secret)
	require.NoError(b.T, err)
	ts := time.Now().Unix()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhook.Sign(key, id, ts, body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(b.T, err)
	out, _ := io.ReadAll(resp.Body)
	return APIResp{Status: resp.StatusCode, Header: resp.Header, Body: out}
}
