package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/webhook"
)

const hookedJourneyDoc = `{"format": 1, "name": "Signup hook", "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user_id"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

func apiCall(t *testing.T, method, url, key string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// postSignedHook sends a Standard Webhooks request signed with secret.
func postSignedHook(t *testing.T, url, secret, id string) (int, string) {
	t.Helper()
	body := []byte(`{"user_id": "u-` + id + `"}`)
	key, err := webhook.DecodeSecret(secret)
	require.NoError(t, err)
	ts := time.Now().Unix()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhook.Sign(key, id, ts, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveRefuses runs `waymark serve` and requires it to exit with code 1
// before it listens; it returns what it logged.
func serveRefuses(t *testing.T, vars map[string]string) string {
	t.Helper()
	vars["WAYMARK_LISTEN_ADDR"] = "127.0.0.1:0"
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listened := false
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: env(vars),
		onListen: func(string) { listened = true; cancel() }}
	code := c.main(ctx, []string{"serve"})
	require.False(t, listened, "the server started with a key that does not open the stored secrets: %s", errb.String())
	require.Equal(t, 1, code, errb.String())
	return errb.String()
}

// Security review F5: journey webhook signing secrets are under key
// management. A key that cannot open them is refused at start and by
// `secrets check`; `secrets rotate` re-seals them, so after a rotation the
// new key alone serves webhooks.
func TestSecretsRotateCoversWebhookSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newKeyB64 := func() (string, string) {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b), secrets.KeyID(b)
	}
	oldKey, oldID := newKeyB64()
	newKey, newID := newKeyB64()
	with := func(kv ...string) map[string]string {
		m := map[string]string{"WAYMARK_DATA_DIR": dir, "WAYMARK_LOG_LEVEL": "warn"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// A live journey with a webhook trigger, its secret sealed with the old
	// key; no connector has a secret.
	r := runCLI(t, with("WAYMARK_SECRET_KEY", oldKey), "", "apikeys", "create", "--name", "ops", "--scopes", "admin")
	require.Equal(t, 0, r.code, r.stderr)
	apiKey := strings.TrimSpace(r.stdout)
	base, _, stop := startServe(t, with("WAYMARK_SECRET_KEY", oldKey))
	code, j := apiCall(t, "POST", base+"/api/v1/journeys", apiKey, hookedJourneyDoc)
	require.Equal(t, 201, code, j)
	jid := j["id"].(string)
	code, hook := apiCall(t, "GET", base+"/api/v1/journeys/"+jid+"/hook", apiKey, "")
	require.Equal(t, 200, code, hook)
	hookPath := "/hooks/" + hook["key"].(string)
	secret := hook["secrets"].([]any)[0].(string)
	code, out := apiCall(t, "POST", base+"/api/v1/journeys/"+jid+"/publish", apiKey, "")
	require.Equal(t, 200, code, out)
	code, body := postSignedHook(t, base+hookPath, secret, "msg_before")
	require.Equal(t, 202, code, body)
	require.Equal(t, 0, stop())

	// The new key alone: `secrets check` and start-up refuse it, naming the
	// journey and both key ids.
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", "secrets", "check")
	require.Equal(t, 1, r.code, r.stdout)
	for _, want := range []string{`journey "Signup hook"`, jid, oldID, newID} {
		require.Contains(t, r.stderr, want)
	}
	logged := serveRefuses(t, with("WAYMARK_SECRET_KEY", newKey))
	for _, want := range []string{"secret key check failed", `journey "Signup hook"`, jid, oldID, newID} {
		require.Contains(t, logged, want)
	}

	// The documented rotation.
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", oldKey), "", "secrets", "rotate", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "dry run: 1 secret value(s) in 0 connector(s) and 1 journey webhook(s) would be sealed again")
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey, "WAYMARK_SECRET_KEY_OLD", oldKey), "", "secrets", "rotate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "sealed 1 secret value(s) in 0 connector(s) and 1 journey webhook(s) again with key "+newID)
	r = runCLI(t, with("WAYMARK_SECRET_KEY", newKey), "", "secrets", "check")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "ok: 1 secret value(s) in 0 connector(s) and 1 journey webhook(s) open")

	// Restarted with only the new key, the same signature still verifies.
	base, _, _ = startServe(t, with("WAYMARK_SECRET_KEY", newKey))
	code, body = postSignedHook(t, base+hookPath, secret, "msg_after")
	require.Equal(t, 202, code, body)
}
