package ui_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
)

// setupOn is setup on the store at url (SQLite or PostgreSQL).
func setupOn(t *testing.T, url string) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	b := &testBundle{t: t, ctx: ctx, store: st}
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg), Engine: b.newEngine(reg), Hooks: b.newHooks(),
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.server = srv
	return b
}

// githubHook publishes hookJourney with the GitHub scheme and returns the
// hook's path and secret.
func (b *testBundle) githubHook() (path, secret string) {
	t := b.t
	t.Helper()
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	res := b.call("POST", "/api/v1/journeys", admin, []byte(strings.Replace(hookJourney, `"reentry": "never"`, `"reentry": "always"`, 1)))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	require.Equal(t, 200, b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).status)
	res = b.call("PUT", "/api/v1/journeys/"+jid+"/hook", admin, []byte(`{"scheme": "github"}`))
	require.Equal(t, 200, res.status, string(res.body))
	hook := res.json(t)
	return strings.TrimPrefix(hook["url"].(string), "http://waymark.test"), hook["secrets"].([]any)[0].(string)
}

// githubRequest is a GitHub-signed POST; delivery "" sends no X-GitHub-Delivery.
func githubRequest(target, secret, delivery string, body []byte) *http.Request {
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

func (b *testBundle) postGitHub(path, secret, delivery string, body []byte) apiResp {
	b.t.Helper()
	resp, err := b.server.App().Test(githubRequest(path, secret, delivery, body), -1)
	require.NoError(b.t, err)
	out, _ := io.ReadAll(resp.Body)
	return apiResp{status: resp.StatusCode, header: resp.Header, body: out}
}

// The GitHub scheme signs only the body: a captured request replayed with
// a new X-GitHub-Delivery (or none) is a duplicate for 24 hours, named
// after the run it created (security review F8).
func TestGitHubHookReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path, secret := b.githubHook()
	body := []byte(`{"user": {"id": "u-1", "email": "ada@example.com"}, "plan": "pro"}`)

	res := b.postGitHub(path, secret, "d-1", body)
	require.Equal(t, 202, res.status, string(res.body))
	runID := res.json(t)["run_id"].(string)
	for _, tc := range []struct{ name, delivery, says string }{
		{"the same delivery id", "d-1", "webhook-id was already received"},
		{"a new delivery id", "d-2-attacker", "body was already received within 24h0m0s"},
		{"no delivery id", "", "body was already received"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.postGitHub(path, secret, tc.delivery, body)
			require.Equal(t, 409, res.status, string(res.body))
			e := res.json(t)["error"].(map[string]any)
			require.Equal(t, "duplicate_webhook", e["code"])
			require.Contains(t, e["message"], tc.says)
			require.Contains(t, e["message"], "it created run "+runID)
		})
	}
	// The refused replay did not spend its delivery id: the sender's
	// genuine next message with that id (another body) goes through.
	res = b.postGitHub(path, secret, "d-2-attacker", []byte(`{"user": {"id": "u-2"}, "plan": "pro"}`))
	require.Equal(t, 202, res.status, string(res.body))
	// Another body is another message.
	res = b.postGitHub(path, secret, "d-3", []byte(`{"user": {"id": "u-1"}, "plan": "team"}`))
	require.Equal(t, 202, res.status, string(res.body))
	runs, _, err := b.store.ListRuns(b.ctx, store.DefaultWorkspaceID, store.RunFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, runs, 3)
}

// 30 concurrent copies of one signed body, each with its own delivery id,
// create exactly one run, on SQLite and on PostgreSQL.
func TestGitHubHookReplayConcurrent(t *testing.T) {
	t.Parallel()
	for _, db := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if db == store.DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			b := setupOn(t, url)
			path, secret := b.githubHook()
			base := b.listen()
			body := []byte(`{"user": {"id": "u-race"}, "n": 1}`)
			statuses := make(chan int, 30)
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Go(func() {
					resp, err := http.DefaultClient.Do(githubRequest(base+path, secret, fmt.Sprintf("race-%d", i), body))
					if err != nil {
						statuses <- 0
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					statuses <- resp.StatusCode
				})
			}
			wg.Wait()
			close(statuses)
			count := map[int]int{}
			for s := range statuses {
				count[s]++
			}
			require.Equal(t, map[int]int{202: 1, 409: 29}, count)
			runs, _, err := b.store.ListRuns(b.ctx, store.DefaultWorkspaceID, store.RunFilter{Limit: 100})
			require.NoError(t, err)
			require.Len(t, runs, 1)
		})
	}
}
