package ui_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// A node kind is one spec (issue 19): this file adds an action kind,
// send_push, on a channel Waymark does not have (push), with a connector
// type that serves it, and nothing outside this file names either. The
// test checks that every part of Waymark that handles node kinds takes it.

// pushSpec is the new kind: a push notification to the profile's phone
// (standing in for a device address).
func pushSpec() nodes.Spec {
	return nodes.Spec{
		Kind: "send_push", Title: "Send push", Category: nodes.Action, Acts: true, DefaultPort: "out",
		Help: "Sends a push notification through a push connector.",
		Fields: []nodes.Field{
			{Name: "connector", Title: "Connector", Type: nodes.Connector, Channel: "push", Required: true},
			{Name: "heading", Title: "Heading", Type: nodes.Template, Required: true, MaxLength: 120},
			{Name: "message", Title: "Message", Type: nodes.Template, MaxLength: 500},
		},
		Ports: []nodes.Port{
			{Name: "out", Title: "Next", IfUnconnected: nodes.Complete},
			{Name: "failed", Title: "Failed", IfUnconnected: nodes.Fail},
		},
		Action: &nodes.ActionSpec{
			Channel: "push", To: []nodes.ProfileField{nodes.ProfilePhone}, NoAddress: "the profile has no device",
			Message: []nodes.MessageField{{Part: nodes.PartSubject, Field: "heading"}, {Part: nodes.PartText, Field: "message"}},
			Policy:  nodes.Policy{QuietHours: true, FrequencyCap: true, Consent: nodes.ChannelConsent},
			Test:    &nodes.TestSend{To: nodes.ProfilePhone, Mark: nodes.PartSubject},
		},
		Example: map[string]any{"connector": "sandbox", "heading": "Hi {{ profile.first_name ?? \"there\" }}"},
	}
}

// pushDevice is the test connector: it records what it is sent.
type pushDevice struct {
	mu   sync.Mutex
	sent []connectors.Message
}

func (d *pushDevice) Send(_ context.Context, m connectors.Message) (connectors.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, m)
	return connectors.Result{Status: store.DeliveryDelivered, ProviderID: "push-" + m.DeliveryID}, nil
}

func (d *pushDevice) Test(context.Context, string) connectors.TestResult {
	return connectors.TestResult{OK: true, Detail: "the device service answers"}
}

func (d *pushDevice) IdempotentSends() bool { return true }

func (d *pushDevice) messages() []connectors.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]connectors.Message(nil), d.sent...)
}

const pushJourney = `{"format": 1, "name": "Push", "settings": {"frequency_cap": {"push": {"count": 3, "period": "day"}}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "nudge", "kind": "send_push", "config": {"connector": "pusher", "heading": "Hi {{ profile.first_name }}",
		"message": "Welcome on {{ event.properties.plan }}"}}],
	"edges": [{"from": "start", "to": "nudge"}]}`

func TestNewKindInOnePlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	require.NoError(t, reg.Register(pushSpec()))
	device := &pushDevice{}
	creg := connectors.NewRegistryFor(reg)
	require.NoError(t, connbuiltin.Register(creg))
	require.NoError(t, creg.Register(connectors.Type{
		Name: "push_test", Title: "Push (test)", Help: "Records push notifications.", Channel: "push",
		Kinds: []string{"send_push"}, RateLimit: connectors.RateFor(50),
		New: func(connectors.Setup) (connectors.Instance, error) { return device, nil },
	}))

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
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{})
	require.NoError(t, err)
	b := &uitest.Bundle{T: t, Ctx: ctx, Store: st, Tasks: &uitest.TaskRecorder{}, Logs: &uitest.LockedBuffer{}}
	b.Engine = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Enqueuer: b.Tasks})
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 256 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg).WithConnectorTypes(creg.Serves), Connectors: conns,
		Engine: b.Engine, TestSends: b.Engine, Simulator: sim.New(sim.Config{Registry: reg, Profiles: st}),
		Hooks: b.NewHooks(), Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")

	// The node catalogue lists it, with its fields and ports.
	r := b.Call("GET", "/api/v1/nodes", admin, nil)
	require.Equal(t, 200, r.Status)
	var catalogue struct {
		Nodes []nodes.Spec `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &catalogue))
	var listed *nodes.Spec
	for i := range catalogue.Nodes {
		if catalogue.Nodes[i].Kind == "send_push" {
			listed = &catalogue.Nodes[i]
		}
	}
	require.NotNil(t, listed, "GET /api/v1/nodes lists send_push")
	require.True(t, listed.Acts)
	require.Len(t, listed.Fields, 3)

	// A connector of the new type serves it; validation and publishing
	// accept the kind, its connector and a frequency cap on its channel.
	r = b.Call("POST", "/api/v1/connectors", admin, []byte(`{"type": "push_test", "name": "pusher"}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	require.Equal(t, []any{"send_push"}, r.JSON(t)["kinds"])
	require.Equal(t, []any{}, r.JSON(t)["secrets_set"], "a type without secrets has none set: [], not null")
	r = b.Call("POST", "/api/v1/journeys/validate", admin, []byte(pushJourney))
	require.Equal(t, 200, r.Status, string(r.Body))
	require.Equal(t, true, r.JSON(t)["valid"], string(r.Body))
	r = b.Call("POST", "/api/v1/journeys/validate", admin, []byte(strings.Replace(pushJourney, `"heading": "Hi {{ profile.first_name }}",`, "", 1)))
	require.Contains(t, string(r.Body), `{"node_id":"nudge","field":"heading","message":"required"}`)
	r = b.Call("POST", "/api/v1/journeys", admin, []byte(pushJourney))
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Body))

	// The engine runs it through the connector registry to the test
	// connector: the recipient, the message and the delivery come from the
	// spec, and so does the consent rule.
	r = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "ada", "properties": {"plan": "pro"},
		 "profile": {"external_id": "ada", "phone": "+14155550123", "attributes": {"first_name": "Ada"}}},
		{"name": "signed_up", "profile_id": "bob", "properties": {"plan": "pro"},
		 "profile": {"external_id": "bob", "phone": "+14155550199", "consent": {"push": "revoked"}}},
		{"name": "signed_up", "profile_id": "cy", "properties": {"plan": "pro"}, "profile": {"external_id": "cy"}}]}`))
	require.Equal(t, 202, r.Status, string(r.Body))
	b.Drain(b.Engine)
	sent := device.messages()
	require.Len(t, sent, 1, "bob revoked push consent; cy has no device")
	require.Equal(t, "send_push", sent[0].Kind)
	require.Equal(t, "+14155550123", sent[0].Phone)
	require.Equal(t, "Hi Ada", sent[0].Subject)
	require.Equal(t, "Welcome on pro", sent[0].Text)
	steps := map[string]string{}
	for _, ext := range []string{"ada", "bob", "cy"} {
		p, err := st.GetProfileByExternalID(ctx, store.DefaultWorkspaceID, ext)
		require.NoError(t, err)
		runs, err := st.ListProfileRuns(ctx, p.ID, jid, time.Time{})
		require.NoError(t, err)
		require.Len(t, runs, 1, ext)
		ledger, err := st.ListRunSteps(ctx, runs[0].ID)
		require.NoError(t, err)
		last := ledger[len(ledger)-1]
		steps[ext] = last.NodeID + ":" + last.Port + ":" + last.Outcome + ":" + detailString(last.Detail, "reason")
	}
	require.Equal(t, map[string]string{
		"ada": "nudge:out:sent:",
		"bob": "nudge:out:skipped:the profile opted out of push",
		"cy":  "nudge:failed:failed:the profile has no device",
	}, steps)

	// A test send goes to the address given, marked as the spec says.
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/test-send", admin, []byte(`{"node": "nudge", "to": "+14155550100", "version": 1}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	sent = device.messages()
	require.Len(t, sent, 2)
	require.Equal(t, "+14155550100", sent[1].Phone)
	require.Equal(t, "[Test] Hi Sample", sent[1].Subject)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/test-send", admin, []byte(`{"node": "nudge", "to": "me@example.com", "version": 1}`))
	require.Equal(t, 422, r.Status)
	require.Contains(t, string(r.Body), "E.164")

	// The simulator runs it, and says who each message went to.
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/simulate", admin, []byte(`{"start": "2026-06-01T10:00:00Z",
		"profiles": [{"external_id": "dee", "phone": "+14155550142", "attributes": {"first_name": "Dee"}}],
		"entry": {"properties": {"plan": "team"}}}`))
	require.Equal(t, 200, r.Status, string(r.Body))
	var res sim.Result
	require.NoError(t, json.Unmarshal(r.Body, &res))
	require.Equal(t, 1, res.Messages)
	msg := res.Timelines[0].Runs[0].Messages[0]
	require.Equal(t, "send_push", msg.Kind)
	require.Equal(t, "+14155550142", msg.To)
	require.Equal(t, "Hi Dee", msg.Subject)
	require.Equal(t, "Welcome on team", msg.Body)

	// The editor's palette and spec data have it; its panel is generated
	// from the spec, with a Send test control asking for a phone number.
	ec := b.EditorClient(store.RoleEditor)
	_, page := ec.Get("/journeys/" + jid + "/edit")
	require.Contains(t, page, `data-testid="palette-send_push"`)
	m := uitest.EditorDataRE.FindStringSubmatch(page)
	require.NotNil(t, m)
	var data struct {
		Specs []struct {
			Kind     string `json:"kind"`
			Category string `json:"category"`
			NewPorts []struct {
				Name string `json:"name"`
			} `json:"new_ports"`
		} `json:"specs"`
		Ports map[string][]struct {
			Name string `json:"name"`
		} `json:"ports"`
	}
	require.NoError(t, json.Unmarshal([]byte(m[1]), &data))
	found := false
	for _, s := range data.Specs {
		if s.Kind == "send_push" {
			found = true
			require.Equal(t, "action", s.Category)
			require.Len(t, s.NewPorts, 2)
		}
	}
	require.True(t, found, "the canvas knows send_push")
	require.Len(t, data.Ports["nudge"], 2)
	resp, page := ec.Post("/journeys/"+jid+"/panel/node", url.Values{"node": {`{"id": "nudge", "kind": "send_push", "config": {"connector": "pusher", "heading": "Hi"}}`}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `name="f.heading"`)
	require.Contains(t, page, `<option value="pusher" selected>`)
	require.Contains(t, page, `data-testid="test-send"`)
	require.Contains(t, page, "Phone number (E.164)")

	// The generated reference documents it.
	doc := string(flows.ReferenceMarkdown(reg))
	require.Contains(t, doc, "### send_push")
	require.Contains(t, doc, "Channel `push`; the recipient is the profile's `phone`")
	require.Contains(t, doc, "channel `email`, `sms`, `webhook` or `push`")
}

func detailString(d map[string]any, key string) string {
	s, _ := d[key].(string)
	return s
}
