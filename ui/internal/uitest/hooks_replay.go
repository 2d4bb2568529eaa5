package uitest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

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
