package uitest

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
)

const HookJourney = `{"format": 1, "name": "Hooked", "settings": {"reentry": "never"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>{{ event.body.plan }}</p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

// postHook sends a Standard Webhooks request to path, signed with secret
// (ts zero: now).
func (b *Bundle) PostHook(path, secret, id string, ts time.Time, body []byte) APIResp {
	b.T.Helper()
	if ts.IsZero() {
		ts = time.Now()
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		key, err := webhook.DecodeSecret(secret)
		require.NoError(b.T, err)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("webhook-signature", webhook.Sign(key, id, ts.Unix(), body))
	}
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(b.T, err)
	out := new(bytes.Buffer)
	_, _ = out.ReadFrom(resp.Body)
	return APIResp{Status: resp.StatusCode, Header: resp.Header, Body: out.Bytes()}
}
