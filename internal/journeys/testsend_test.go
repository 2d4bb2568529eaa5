package journeys_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const testSendJourney = `{"format": 1, "name": "Welcome", "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1d"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "mail", "subject": "Hi {{ profile.first_name }}", "body": "<p>Welcome</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hello"}]}`

// outbox is the one connector the engine resolves: it keeps what it was
// sent, as a provider's test account would.
type outbox struct {
	mu   sync.Mutex
	sent []connectors.Message
}

func (o *outbox) Resolve(_ context.Context, _, name string) (connectors.Connector, error) {
	if name != "mail" {
		return nil, store.ErrNotFound
	}
	return o, nil
}

func (o *outbox) Send(_ context.Context, m connectors.Message) (connectors.Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return connectors.Result{Status: store.DeliverySent, ProviderID: "p-1"}, nil
}

// TestTestSendsWithoutHTTP sends a node's message as a test through the
// service alone: refusals name the node and field, a send is recorded
// with its audit entry and never as a delivery, and the quota holds.
func TestTestSendsWithoutHTTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	docs := journeys.New(st, reg)
	box := &outbox{}
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: box})
	svc := journeys.NewTestSends(st, docs, eng, store.TestSendQuota{PerActor: 1, ActorWindow: 60e9, PerWorkspace: 10, WorkspaceWindow: 60e9})
	j, _, err := docs.Create(ctx, store.DefaultWorkspaceID, []byte(testSendJourney), "test", journeys.SaveOptions{AllowInvalid: true})
	require.NoError(t, err)

	req := journeys.TestSendRequest{JourneyID: j.ID, Node: "hello", To: "ada@example.com", By: "ada", ActorID: "user:u1",
		Audit: &store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "user", ActorID: "u1"}}
	refusals := []struct {
		name        string
		change      func(r *journeys.TestSendRequest)
		code, field string
	}{
		{"no node", func(r *journeys.TestSendRequest) { r.Node = " " }, journeys.TestBadRequest, "node"},
		{"unknown node", func(r *journeys.TestSendRequest) { r.Node = "nope" }, journeys.TestUnknownNode, "node"},
		{"not an action", func(r *journeys.TestSendRequest) { r.Node = "wait" }, journeys.TestNotAnAction, "node"},
		{"not an address", func(r *journeys.TestSendRequest) { r.To = "ada" }, journeys.TestBadRecipient, "to"},
		{"a profile without the right", func(r *journeys.TestSendRequest) { r.ProfileExternalID = "u-1" }, journeys.TestForbidden, ""},
		{"an unknown profile", func(r *journeys.TestSendRequest) { r.ProfileExternalID, r.MayReadProfiles = "u-1", true },
			journeys.TestUnknownProfile, "profile_external_id"},
		{"no such version", func(r *journeys.TestSendRequest) { r.Version = 3 }, journeys.TestNoVersion, ""},
	}
	for _, tt := range refusals {
		r := req
		tt.change(&r)
		_, err := svc.Send(ctx, store.DefaultWorkspaceID, r)
		var te *journeys.TestSendError
		require.ErrorAs(t, err, &te, tt.name)
		require.Equal(t, tt.code, te.Code, tt.name)
		require.Equal(t, tt.field, te.Field, tt.name)
	}

	rec, err := svc.Send(ctx, store.DefaultWorkspaceID, req)
	require.NoError(t, err)
	require.Equal(t, store.DeliverySent, rec.Status)
	require.Equal(t, "[Test] Hi Sample", rec.Subject)
	require.Len(t, box.sent, 1)
	require.True(t, box.sent[0].Test)
	audit, err := st.ListAudit(ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.test_send", TargetID: j.ID})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, rec.ID, audit[0].Summary["test_send_id"])
	ds, _, err := st.ListDeliveries(ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ds, "a test send is not a delivery")

	_, err = svc.Send(ctx, store.DefaultWorkspaceID, req)
	var qe *store.TestSendQuotaError
	require.ErrorAs(t, err, &qe, "one test per actor and minute")

	_, err = journeys.NewTestSends(st, docs, nil, store.TestSendQuota{}).Send(ctx, store.DefaultWorkspaceID, req)
	require.ErrorIs(t, err, journeys.ErrTestSendsUnavailable)
}
