package api_test

import (
	"encoding/json"
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
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
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
	b, conns, _ := uitest.SetupTestSends(t, true)
	smsConn, err := conns.Create(b.Ctx, store.DefaultWorkspaceID, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC" + strings.Repeat("1", 32), "auth_token": "tok", "from": "+15017122661", "base_url": srv.URL, "status_callbacks": false}})
	require.NoError(t, err)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:read")
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	_, _, err = b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "ada",
		Attributes: map[string]any{"first_name": "Ada", "code": "X42"}})
	require.NoError(t, err)

	// SMS through the real Twilio protocol, with a chosen profile's data.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123", "profile_external_id": "ada"}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	ts := r.JSON(t)["test_send"].(map[string]any)
	require.Equal(t, "+14155550123", ts["to"])
	require.Equal(t, "[Test] Hi Ada, code X42", ts["body"])
	msgs := tw.messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "+14155550123", msgs[0].Get("To"))
	require.Equal(t, "[Test] Hi Ada, code X42", msgs[0].Get("Body"))

	// Email through the sandbox with the sample profile.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	ts = r.JSON(t)["test_send"].(map[string]any)
	require.Equal(t, "[Test] Hi Sample", ts["subject"])
	require.Equal(t, "delivered", ts["status"])

	// Recorded as test sends, never as deliveries (analytics count those).
	ds, _, err := b.Store.ListDeliveries(b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ds)
	r = b.Call("GET", "/api/v1/journeys/"+id+"/test-sends", key, nil)
	require.Equal(t, 200, r.Status)
	require.Len(t, r.JSON(t)["test_sends"], 2)
	require.Contains(t, string(r.Body), "Hi Ada, code X42")
	// The sandbox's list (the Test inbox) shows the sandbox test send,
	// marked as a test, with its journey; the Twilio one is not the
	// sandbox's.
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	ib := b.Call("GET", "/api/v1/sandbox/messages", admin, nil)
	require.Equal(t, 200, ib.Status, string(ib.Body))
	inbox := ib.JSON(t)["messages"].([]any)
	require.Len(t, inbox, 1, string(ib.Body))
	m := inbox[0].(map[string]any)
	require.Equal(t, true, m["test"])
	require.Equal(t, id, m["journey_id"])
	require.Equal(t, "hello", m["node_id"])
	require.Equal(t, "[Test] Hi Sample", m["subject"])
	require.True(t, strings.HasPrefix(m["id"].(string), "test-"))
	ib = b.Call("GET", "/api/v1/sandbox/messages?run_id=nope", admin, nil)
	require.Empty(t, ib.JSON(t)["messages"], "a run's messages are deliveries only")
	r = b.Call("GET", "/api/v1/journeys/"+id+"/test-sends?limit=1", key, nil)
	require.Len(t, r.JSON(t)["test_sends"], 1)
	for _, bad := range []string{"0", "501", "x"} {
		r = b.Call("GET", "/api/v1/journeys/"+id+"/test-sends?limit="+bad, key, nil)
		require.Equal(t, 400, r.Status, "limit=%s: %s", bad, r.Body)
	}

	// A profile's data is shown only to those who may read profiles.
	writer := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", writer, []byte(`{"node": "text", "to": "+14155550123", "profile_external_id": "ada"}`))
	require.Equal(t, 403, r.Status, string(r.Body))
	require.Equal(t, "insufficient_scope", r.JSON(t)["error"].(map[string]any)["code"])
	r = b.Call("GET", "/api/v1/journeys/"+id+"/test-sends", writer, nil)
	require.Equal(t, 200, r.Status)
	require.NotContains(t, string(r.Body), "X42", "bodies rendered from a real profile are redacted")
	var redacted, shown int
	for _, x := range r.JSON(t)["test_sends"].([]any) {
		if x.(map[string]any)["redacted"] == true {
			redacted++
		} else if x.(map[string]any)["body"] != nil {
			shown++
		}
	}
	require.Equal(t, 1, redacted)
	require.Equal(t, 1, shown, "the sample profile's test is shown")
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.test_send", TargetID: id})
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
			r := b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(tc.body))
			require.Equal(t, tc.status, r.Status, string(r.Body))
			e := r.JSON(t)["error"].(map[string]any)
			require.Equal(t, tc.code, e["code"], string(r.Body))
			if tc.field != "" {
				d := e["details"].([]any)[0].(map[string]any)
				require.Equal(t, tc.field, d["field"])
			}
		})
	}
	require.Len(t, tw.messages(), 1, "refused tests send nothing")

	// A disabled connector is missing for a test (the engine's runs wait
	// for it instead).
	_, err = conns.SetEnabled(b.Ctx, store.DefaultWorkspaceID, smsConn.ID, false)
	require.NoError(t, err)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123"}`))
	require.Equal(t, 422, r.Status, string(r.Body))
	require.Equal(t, "connector_missing", r.JSON(t)["error"].(map[string]any)["code"])
	require.Len(t, tw.messages(), 1)

	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", reader, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.Equal(t, 403, r.Status)
}

// TestTestSendSSRF: the connector service's SSRF guard applies to tests: a
// Twilio base URL on loopback is refused, and the failure is recorded.
func TestTestSendSSRF(t *testing.T) {
	t.Parallel()
	tw := &fakeTwilio{}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	b, _, keys := uitest.SetupTestSends(t, false)
	// The connector was saved when loopback was allowed (an admin's
	// allowlist changed since, say); the web process's guard refuses it.
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	lenient, err := connectors.NewService(b.Store, keys, creg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests())})
	require.NoError(t, err)
	_, err = lenient.Create(b.Ctx, store.DefaultWorkspaceID, connectors.Input{Type: "twilio", Name: "sms", Config: map[string]any{
		"account_sid": "AC" + strings.Repeat("1", 32), "auth_token": "tok", "from": "+15017122661", "base_url": srv.URL, "status_callbacks": false}})
	require.NoError(t, err)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "text", "to": "+14155550123"}`))
	require.Equal(t, 502, r.Status, string(r.Body))
	require.Empty(t, tw.messages())
	list, err := b.Store.ListTestSends(b.Ctx, store.DefaultWorkspaceID, id, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "failed", list[0].Status)
}

// TestTestSendUI: the property panel of an action node has the "Send
// test" control, and posting it shows the result in place.
func TestTestSendUI(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupTestSends(t, true)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	csrf := c.Login("ed@example.com", "correct horse battery")
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	resp, html := c.PostForm("/journeys/"+id+"/panel/node", url.Values{"_csrf": {csrf}, "node": {`{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}`}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send"`)
	require.Contains(t, html, `hx-post="/journeys/`+id+`/test-send"`)
	resp, html = c.PostForm("/journeys/"+id+"/panel/node", url.Values{"_csrf": {csrf}, "node": {`{"id": "wait", "kind": "delay", "config": {"duration": "1h"}}`}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.NotContains(t, html, `data-testid="test-send"`, "only action nodes")

	resp, html = c.PostForm("/journeys/"+id+"/test-send", url.Values{"_csrf": {csrf}, "ts_node": {"hello"}, "ts_version": {"0"}, "ts_to": {"me@example.com"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send-ok"`)
	require.Contains(t, html, "[Test] Hi Sample")
	resp, html = c.PostForm("/journeys/"+id+"/test-send", url.Values{"_csrf": {csrf}, "ts_node": {"hello"}, "ts_to": {"nope"}})
	require.Equal(t, 200, resp.StatusCode, html)
	require.Contains(t, html, `data-testid="test-send-error"`)
	require.Contains(t, html, "not an email address")
}
