package ui_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// setupEverything is setup with every optional service wired, as cmd
// wires them: connectors, profiles, the simulator, test sends, hooks.
func setupEverything(t *testing.T) *uitest.Bundle {
	t.Helper()
	b := uitest.Setup(t)
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	conns, err := connectors.NewService(b.Store, keys, creg, connectors.Options{
		Net: netguard.MustNew(netguard.AllowLoopbackForTests()), PublicURL: "https://waymark.example.com"})
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	trig := worker.NewTriggers(b.Engine, b.Store, nil, worker.TriggersConfig{})
	prof := profiles.NewService(b.Store, b.Engine, func(context.Context, string, connectors.Member) error { return nil },
		func(ctx context.Context, p store.Profile) { _, _ = trig.ProfileChanged(ctx, p) }, nil)
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 256 << 10}, ui.Deps{
		Store: b.Store, Journeys: journeys.New(b.Store, reg).WithConnectorTypes(creg.Serves), Engine: b.Engine, Hooks: b.NewHooks(),
		Connectors: conns, Profiles: prof, TestSends: b.Engine,
		Simulator: sim.New(sim.Config{Registry: reg, Profiles: b.Store, Suppressions: b.Store, Limits: sim.DefaultLimits}),
		Logger:    slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return b
}

// replayJourney: ada and cy (group x) get a mail and wait for "paid"; bob
// (group y) fails at a webhook whose connector the engine cannot reach.
const replayJourney = `{"format": 1, "name": "Replay", "settings": {"reentry": "always", "goal": {"event": "paid"}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "title": "Signed up", "position": {"x": 0, "y": 0}, "config": {"event": "signed_up"}},
	{"id": "cond", "kind": "condition", "config": {"expr": "event.properties.group == \"x\""}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi {{ profile.email }}</p>"}},
	{"id": "wait", "kind": "wait_event", "config": {"event": "paid", "timeout": "1d"}},
	{"id": "late", "kind": "send_webhook", "config": {"connector": "flaky"}},
	{"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "cond"}, {"from": "cond", "port": "yes", "to": "hello"}, {"from": "cond", "port": "no", "to": "late"},
	{"from": "hello", "to": "wait"}, {"from": "wait", "port": "matched", "to": "done"}]}`

// TestOpenAPIReplayCoversEveryOperation: every operation of the document
// answers a real request successfully once here, and each of those
// exchanges (like every exchange of every API test) is replayed against
// the document. An operation added to the API without a success case
// here fails this test, so none goes unchecked.
func TestOpenAPIReplayCoversEveryOperation(t *testing.T) {
	t.Parallel()
	b := setupEverything(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	ok := func(want int, method, path string, body string, header ...string) uitest.APIResp {
		t.Helper()
		var raw []byte
		if body != "" {
			raw = []byte(body)
		}
		r := b.Call(method, path, admin, raw, header...)
		require.Equal(t, want, r.Status, "%s %s: %s", method, path, r.Body)
		return r
	}
	receiver, _ := uitest.WebhookReceiver(t)

	ok(200, "GET", "/api/v1/openapi.json", "")
	ok(200, "GET", "/api/v1/whoami", "")
	ok(200, "GET", "/api/v1/nodes", "")
	ok(200, "GET", "/api/v1/connector-types", "")
	r := ok(201, "POST", "/api/v1/connectors", `{"type": "webhook", "name": "flaky", "config": {"url": "`+receiver.URL+`", "secret": "`+uitest.WebhookSecret+`"}}`)
	conn := r.JSON(t)["id"].(string)
	ok(200, "GET", "/api/v1/connectors", "")
	ok(200, "GET", "/api/v1/connectors/"+conn, "")
	ok(200, "PATCH", "/api/v1/connectors/"+conn, `{"config": {"timeout_seconds": 5}}`)
	ok(200, "POST", "/api/v1/connectors/"+conn+"/test", "")

	ok(200, "POST", "/api/v1/journeys/validate", replayJourney)
	r = ok(201, "POST", "/api/v1/journeys?allow_invalid=false", replayJourney)
	jid := r.JSON(t)["id"].(string)
	ok(200, "GET", "/api/v1/journeys?status=all&q=Replay&limit=10", "")
	r = ok(200, "GET", "/api/v1/journeys/"+jid, "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/export?version=draft", "")
	ok(200, "PUT", "/api/v1/journeys/"+jid+"/draft", replayJourney, "If-Match", r.Header.Get("ETag"))
	ok(200, "POST", "/api/v1/journeys/"+jid+"/publish", "")

	r = ok(202, "POST", "/api/v1/events", `{"events": [
		{"name": "signed_up", "profile_id": "ada", "properties": {"group": "x"}, "profile": {"email": "ada@example.com"}},
		{"name": "signed_up", "profile_id": "bob", "properties": {"group": "y"}},
		{"name": "signed_up", "profile_id": "cy", "properties": {"group": "x"}, "occurred_at": "2026-01-02T03:04:05Z",
		 "profile": {"email": "cy@example.com", "phone": "+33612345678", "timezone": "Europe/Paris", "locale": "fr-FR", "attributes": {"plan": "free"}}}]}`, "Idempotency-Key", "replay-1")
	var runs []string
	for _, e := range r.JSON(t)["events"].([]any) {
		runs = append(runs, e.(map[string]any)["entered"].([]any)[0].(string))
	}
	b.Drain(b.Engine)
	ada, bob, cy := runs[0], runs[1], runs[2]
	ok(200, "GET", "/api/v1/runs?journey_id="+jid+"&status=failed&limit=5", "")
	ok(200, "GET", "/api/v1/runs/"+ada, "")
	ok(200, "POST", "/api/v1/runs/"+bob+"/retry", "")
	ok(200, "POST", "/api/v1/runs/"+ada+"/move", `{"node_id": "hello"}`)
	ok(200, "POST", "/api/v1/runs/"+cy+"/cancel", "")
	b.Drain(b.Engine)
	ok(200, "GET", "/api/v1/sandbox/messages?limit=5", "")

	draft := strings.Replace(replayJourney, `"name": "Replay"`, `"name": "Replay v2"`, 1)
	ok(200, "PUT", "/api/v1/journeys/"+jid+"/draft?allow_invalid=true", draft)
	ok(200, "POST", "/api/v1/journeys/"+jid+"/publish", `{"dry_run": true, "plan": {"wait": {"action": "stay"}}}`)
	ok(200, "POST", "/api/v1/journeys/"+jid+"/publish", `{"plan": {"wait": {"action": "move", "to": "hello"}}}`)
	ok(200, "GET", "/api/v1/journeys/"+jid+"/versions", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/versions/1", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/diff?from=1&to=2", "")
	ok(200, "POST", "/api/v1/journeys/"+jid+"/rollback", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/stats?version=1", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/lift", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/triggers", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/runs.csv?from=2000-01-01", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/deliveries.csv?to=2999-01-01T00:00:00Z", "")
	ok(200, "GET", "/api/v1/journeys/"+jid+"/hook", "")
	ok(200, "PUT", "/api/v1/journeys/"+jid+"/hook", `{"scheme": "github"}`)
	ok(200, "POST", "/api/v1/journeys/"+jid+"/hook/rotate", "")
	ok(200, "POST", "/api/v1/journeys/"+jid+"/simulate", `{"horizon": "2d", "profiles": [{"external_id": "sim-1", "email": "sim@example.com"}],
		"entry": {"name": "signed_up", "properties": {"group": "x"}}, "events": [{"name": "paid", "after": "1h"}]}`)
	ok(200, "POST", "/api/v1/journeys/"+jid+"/test-send", `{"node": "hello", "to": "test@example.com"}`)
	ok(200, "GET", "/api/v1/journeys/"+jid+"/test-sends?limit=5", "")

	ok(201, "POST", "/api/v1/profiles", `{"external_id": "dan", "email": "dan@example.com", "timezone": "Europe/Paris", "attributes": {"plan": "pro"}}`)
	ok(200, "POST", "/api/v1/profiles", `{"external_id": "dan", "consent": {"email": "granted"}}`)
	ok(200, "GET", "/api/v1/profiles/dan", "")
	ok(200, "GET", "/api/v1/profiles/ada/export", "")
	ok(200, "DELETE", "/api/v1/profiles/dan", "")

	ok(201, "POST", "/api/v1/suppressions", `{"channel": "email", "address": "gone@example.com"}`)
	ok(200, "GET", "/api/v1/suppressions?channel=email&q=gone&limit=5", "")
	ok(204, "DELETE", "/api/v1/suppressions?channel=email&address=gone@example.com", "")

	r = ok(201, "POST", "/api/v1/broadcasts", `{"name": "Replay news", "audience": "true", "channel": "email", "connector": "sandbox", "subject": "News", "html": "<p>News</p>", "quiet_hours": {"start": "21:00", "end": "08:00"}}`)
	ok(200, "GET", "/api/v1/broadcasts?limit=5", "")
	ok(200, "GET", "/api/v1/broadcasts/"+r.JSON(t)["id"].(string), "")
	ok(200, "POST", "/api/v1/broadcasts/"+r.JSON(t)["id"].(string)+"/cancel", "")

	ok(200, "POST", "/api/v1/journeys/"+jid+"/pause", "")
	ok(200, "POST", "/api/v1/journeys/"+jid+"/resume", "")
	ok(200, "POST", "/api/v1/journeys/"+jid+"/archive?exit_runs=true", "")
	r = ok(201, "POST", "/api/v1/connectors", `{"type": "webhook", "name": "spare", "config": {"url": "`+receiver.URL+`", "secret": "`+uitest.WebhookSecret+`"}}`)
	ok(204, "DELETE", "/api/v1/connectors/"+r.JSON(t)["id"].(string), "")

	// Saved segments (ui/api/segments.go).
	r = ok(201, "POST", "/api/v1/segments", `{"name": "vip", "rules": {"match": "all", "rules": [{"attribute": "plan", "type": "string", "op": "is", "value": "pro"}]}}`)
	sid := r.JSON(t)["id"].(string)
	ok(200, "GET", "/api/v1/segments", "")
	ok(200, "GET", "/api/v1/segments/"+sid, "")
	ok(200, "PUT", "/api/v1/segments/"+sid, `{"name": "vip", "expr": "profile.plan == \"team\""}`)
	ok(200, "POST", "/api/v1/segments/estimate", `{"rules": {"match": "any", "rules": [{"field": "email", "op": "exists"}]}}`)
	ok(204, "DELETE", "/api/v1/segments/"+sid, "")

	covered := uitest.OpenAPICovered(b.Server)
	_, doc := openapiDoc(t, b.Server)
	var missing []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if op := strings.ToUpper(method) + " " + path; covered[op] == 0 {
				missing = append(missing, op)
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "operations without a replayed success: add a call to this test")
}
