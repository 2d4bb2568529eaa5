package uitest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/store"
)

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

// githubHook publishes hookJourney with the GitHub scheme and returns the
// hook's path and secret.
func (b *Bundle) GitHubHook() (path, secret string) {
	t := b.T
	t.Helper()
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(strings.Replace(HookJourney, `"reentry": "never"`, `"reentry": "always"`, 1)))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "github"}`))
	require.Equal(t, 200, res.Status, string(res.Body))
	hook := res.JSON(t)
	return strings.TrimPrefix(hook["url"].(string), "http://waymark.test"), hook["secrets"].([]any)[0].(string)
}

// githubRequest is a GitHub-signed POST; delivery "" sends no X-GitHub-Delivery.
func GitHubRequest(target, secret, delivery string, body []byte) *http.Request {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req := httptest.NewRequest("POST", target, bytes.NewReader(body))
	if strings.HasPrefix(target, "http") {
		req, _ = http.NewRequest("POST", target, bytes.NewReader(body))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	return req
}

func (b *Bundle) PostGitHub(path, secret, delivery string, body []byte) APIResp {
	b.T.Helper()
	resp, err := b.Server.App().Test(GitHubRequest(path, secret, delivery, body), -1)
	require.NoError(b.T, err)
	out, _ := io.ReadAll(resp.Body)
	return APIResp{Status: resp.StatusCode, Header: resp.Header, Body: out}
}
