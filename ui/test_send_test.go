package ui_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

// fakeTwilio speaks Twilio's Messages API and records what it was sent.
type fakeTwilio struct {
	mu   sync.Mutex
	sent []url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/Messages.json") || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.sent = append(f.sent, r.PostForm)
	n := len(f.sent)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("0", 31) + string(rune('0'+n%10)), "status": "queued"})
}

func (f *fakeTwilio) messages() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.sent...)
}

// setupTestSends is setup with the real connector service (loopback
// allowed only if allowLoopback: the SSRF guard applies to test sends).
func setupTestSends(t *testing.T, allowLoopback bool) (*testBundle, *connectors.Service, *secrets.Keyring) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	var guard *netguard.Guard
	if allowLoopback {
		guard = netguard.MustNew(netguard.AllowLoopbackForTests())
	} else {
		guard = netguard.MustNew()
	}
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{Net: guard, PublicURL: "https://waymark.example.com"})
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	b := &testBundle{t: t, ctx: ctx, store: st, tasks: &taskRecorder{}}
	b.engine = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Enqueuer: b.tasks})
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg).WithConnectorTypes(creg.Serves), Engine: b.engine, TestSends: b.engine,
		Hooks: b.newHooks(), Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.server = srv
	return b, conns, keys
}

const testSendDoc = `{"format": 1, "name": "Tests", "settings": {"timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi {{ profile.first_name }}", "body": "<p>Hello {{ profile.first_name }}</p>"}},
    {"id": "text", "kind": "send_sms", "config": {"connector": "sms", "body": "Hi {{ profile.first_name }}, code {{ profile.code ?? \"none\" }}"}},
    {"id": "gone", "kind": "send_sms", "config": {"connector": "nosuch", "body": "x"}},
    {"id": "wait", "kind": "delay", "config": {"duration": "1h"}}
  ],
  "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "text"}, {"from": "text", "to": "gone"}, {"from": "gone", "to": "wait"}]}`

func TestTestSendAPI(t *testing.T) {
	t.Parallel()
	tw := &fakeTwilio{}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	b, conns, _ := setupTestSends(t, true)
	smsConn, err := conns.Create(b.ctx, store.DefaultWorkspaceID, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC" + strings.Repeat("1", 32), "auth_token": "tok", "from": "+15017122661", "base_url": srv.URL, "status_callbacks": false}})
	require.NoError(t, err)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:read")
	r := b.call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	_, _, err = b.store.UpsertProfile(b.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada",
		Attributes: map[string]any{"first_name": "Ada", "code": "X42"}})
	require.NoError(t, err)

	// SMS through the real Twilio protocol, with a chosen profile's data.
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123", "profile_external_id": "ada"}`))
	require.Equal(t, 200, r.status, string(r.body))
	ts := r.json(t)["test_send"].(map[string]any)
	require.Equal(t, "+14155550123", ts["to"])
	require.Equal(t, "[Test] Hi Ada, code X42", ts["body"])
	msgs := tw.messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "+14155550123", msgs[0].Get("To"))
	require.Equal(t, "[Test] Hi Ada, code X42", msgs[0].Get("Body"))

	// Email through the sandbox with the sample profile.
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.Equal(t, 200, r.status, string(r.body))
	ts = r.json(t)["test_send"].(map[string]any)
	require.Equal(t, "[Test] Hi Sample", ts["subject"])
	require.Equal(t, "delivered", ts["status"])

	// Recorded as test sends, never as deliveries (analytics count those).
	ds, _, err := b.store.ListDeliveries(b.ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ds)
	r = b.call("GET", "/api/v1/journeys/"+id+"/test-sends", key, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.json(t)["test_sends"], 2)
	require.Contains(t, string(r.body), "Hi Ada, code X42")
	r = b.call("GET", "/api/v1/journeys/"+id+"/test-sends?limit=1", key, nil)
	require.Len(t, r.json(t)["test_sends"], 1)
	for _, bad := range []string{"0", "501", "x"} {
		r = b.call("GET", "/api/v1/journeys/"+id+"/test-sends?limit="+bad, key, nil)
		require.Equal(t, 400, r.status, "limit=%s: %s", bad, r.body)
	}

	// A profile's data is shown only to those who may read profiles.
	writer := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", writer, []byte(`{"node": "text", "to": "+14155550123", "profile_external_id": "ada"}`))
	require.Equal(t, 403, r.status, string(r.body))
	require.Equal(t, "insufficient_scope", r.json(t)["error"].(map[string]any)["code"])
	r = b.call("GET", "/api/v1/journeys/"+id+"/test-sends", writer, nil)
	require.Equal(t, 200, r.status)
	require.NotContains(t, string(r.body), "X42", "bodies rendered from a real profile are redacted")
	var redacted, shown int
	for _, x := range r.json(t)["test_sends"].([]any) {
		if x.(map[string]any)["redacted"] == true {
			redacted++
		} else if x.(map[string]any)["body"] != nil {
			shown++
		}
	}
	require.Equal(t, 1, redacted)
	require.Equal(t, 1, shown, "the sample profile's test is shown")
	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.test_send", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	require.Equal(t, "hello", audit[0].Summary["node_id"])

	for _, tc := range []struct {
		name, body, code, field string
		status                  int
	}{
		{"unknown node", `{"node": "nope", "to": "me@example.com"}`, "unknown_node", "node", 422},
		{"not an action", `{"node": "wait", "to": "me@example.com"}`, "not_an_action", "node", 422},
		{"bad email", `{"node": "hello", "to": "not-an-address"}`, "bad_recipient", "to", 422},
		{"bad phone", `{"node": "text", "to": "0123"}`, "bad_recipient", "to", 422},
		{"connector missing", `{"node": "gone", "to": "+14155550123"}`, "connector_missing", "config.connector", 422},
		{"unknown profile", `{"node": "hello", "to": "me@example.com", "profile_external_id": "zed"}`, "unknown_profile", "profile_external_id", 422},
		{"no node", `{"to": "me@example.com"}`, "bad_request", "node", 400},
		{"unknown version", `{"node": "hello", "to": "me@example.com", "version": 9}`, "not_found", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(tc.body))
			require.Equal(t, tc.status, r.status, string(r.body))
			e := r.json(t)["error"].(map[string]any)
			require.Equal(t, tc.code, e["code"], string(r.body))
			if tc.field != "" {
				d := e["details"].([]any)[0].(map[string]any)
				require.Equal(t, tc.field, d["field"])
			}
		})
	}
	require.Len(t, tw.messages(), 1, "refused tests send nothing")

	// A disabled connector is missing for a test (the engine's runs wait
	// for it instead).
	_, err = conns.SetEnabled(b.ctx, store.DefaultWorkspaceID, smsConn.ID, false)
	require.NoError(t, err)
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123"}`))
	require.Equal(t, 422, r.status, string(r.body))
	require.Equal(t, "connector_missing", r.json(t)["error"].(map[string]any)["code"])
	require.Len(t, tw.messages(), 1)

	reader := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", reader, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.Equal(t, 403, r.status)
}

// TestTestSendSSRF: the connector service's SSRF guard applies to tests: a
// Twilio base URL on loopback is refused, and the failure is recorded.
func TestTestSendSSRF(t *testing.T) {
	t.Parallel()
	tw := &fakeTwilio{}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	b, _, keys := setupTestSends(t, false)
	// The connector was saved when loopback was allowed (an admin's
	// allowlist changed since, say); the web process's guard refuses it.
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	lenient, err := connectors.NewService(b.store, keys, creg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests())})
	require.NoError(t, err)
	_, err = lenient.Create(b.ctx, store.DefaultWorkspaceID, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC" + strings.Repeat("1", 32), "auth_token": "tok", "from": "+15017122661", "base_url": srv.URL, "status_callbacks": false}})
	require.NoError(t, err)
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123"}`))
	require.Equal(t, 502, r.status, string(r.body))
	require.Empty(t, tw.messages())
	list, err := b.store.ListTestSends(b.ctx, store.DefaultWorkspaceID, id, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "failed", list[0].Status)
}

// TestTestSendUI: the property panel of an action node has the "Send
// test" control, and posting it shows the result in place.
func TestTestSendUI(t *testing.T) {
	t.Parallel()
	b, _, _ := setupTestSends(t, true)
	b.createUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.client()
	csrf := c.login("ed@example.com", "correct horse battery")
	key := b.apiKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.status, string(r.body))
	id := r.json(t)["id"].(string)

	resp, html := c.postForm("/journeys/"+id+"/panel/node", url.Values{"_csrf": {csrf}, "node": {`{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}`}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send"`)
	require.Contains(t, html, `hx-post="/journeys/`+id+`/test-send"`)
	resp, html = c.postForm("/journeys/"+id+"/panel/node", url.Values{"_csrf": {csrf}, "node": {`{"id": "wait", "kind": "delay", "config": {"duration": "1h"}}`}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.NotContains(t, html, `data-testid="test-send"`, "only action nodes")

	resp, html = c.postForm("/journeys/"+id+"/test-send", url.Values{"_csrf": {csrf}, "ts_node": {"hello"}, "ts_version": {"0"}, "ts_to": {"me@example.com"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send-ok"`)
	require.Contains(t, html, "[Test] Hi Sample")
	resp, html = c.postForm("/journeys/"+id+"/test-send", url.Values{"_csrf": {csrf}, "ts_node": {"hello"}, "ts_to": {"nope"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send-error"`)
	require.Contains(t, html, "not an email address")
}
