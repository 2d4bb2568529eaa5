package entry_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const hookJourney = `{"format": 1, "name": "Hooked", "settings": {"reentry": "never"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>{{ event.body.plan }}</p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

const eventJourney = `{"format": 1, "name": "Signed up", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "hi"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

type tasks struct{}

func (t *tasks) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

type bundle struct {
	ctx      context.Context
	store    *store.Store
	journeys *journeys.Service
	hooks    *hooks.Service
	svc      *entry.Service
}

func setup(t *testing.T) *bundle {
	t.Helper()
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
	keys, err := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	b := &bundle{ctx: ctx, store: st, journeys: journeys.New(st, reg), hooks: hooks.New(st, keys, "http://waymark.test", nil)}
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Enqueuer: &tasks{}})
	b.svc = entry.New(entry.Deps{Store: st, Hooks: b.hooks, Engine: eng})
	return b
}

// publish creates and publishes a journey.
func (b *bundle) publish(t *testing.T, doc string) store.Journey {
	t.Helper()
	j, _, err := b.journeys.Create(b.ctx, store.DefaultWorkspaceID, []byte(doc), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = b.journeys.Publish(b.ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	return j
}

// signed is a Standard Webhooks request for the journey's hook.
func (b *bundle) signed(t *testing.T, journeyID, id string, body string, extra map[string]string) entry.WebhookRequest {
	t.Helper()
	h, err := b.hooks.Get(b.ctx, store.DefaultWorkspaceID, journeyID)
	require.NoError(t, err)
	key, err := webhook.DecodeSecret(h.Secrets[0])
	require.NoError(t, err)
	ts := time.Now().Unix()
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("webhook-id", id)
	header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	header.Set("webhook-signature", webhook.Sign(key, id, ts, []byte(body)))
	for k, v := range extra {
		header.Set(k, v)
	}
	all := map[string][]string{}
	for k, vs := range header {
		all[strings.ToLower(k)] = vs
	}
	return entry.WebhookRequest{Key: h.URL[strings.LastIndex(h.URL, "/")+1:], Header: header.Get, Headers: all, Body: []byte(body)}
}

// TestWebhookBecomesARun drives the webhook protocol without HTTP: a
// signed request enters its profile once, a replay is a duplicate naming
// the first run, credentials stay out of the entry event, and a request
// the trigger cannot map to a profile enters nothing.
func TestWebhookBecomesARun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.publish(t, hookJourney)
	body := `{"user": {"id": "u-1", "email": "Ada@Example.com"}, "plan": "pro"}`

	rc, err := b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_1", body, map[string]string{"Authorization": "Bearer secret", "X-Trace": "t-1"}))
	require.NoError(t, err)
	require.True(t, rc.Entered)
	run, err := b.store.GetRun(b.ctx, rc.RunID)
	require.NoError(t, err)
	p, err := b.store.GetProfile(b.ctx, run.ProfileID)
	require.NoError(t, err)
	require.Equal(t, "u-1", p.ExternalID)
	require.Equal(t, "ada@example.com", p.Email, "validated like every profile write")
	require.Contains(t, string(run.EntryEvent), `"plan":"pro"`)
	require.Contains(t, string(run.EntryEvent), `"x-trace":"t-1"`)
	require.NotContains(t, string(run.EntryEvent), "Bearer secret")
	require.NotContains(t, string(run.EntryEvent), "webhook-signature")

	_, err = b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_1", body, nil))
	var dup *entry.DuplicateError
	require.ErrorAs(t, err, &dup)
	require.Equal(t, rc.RunID, dup.RunID)

	// Re-entry "never": accepted, but no run.
	rc, err = b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_2", body, nil))
	require.NoError(t, err)
	require.False(t, rc.Entered)
	require.NotEmpty(t, rc.Reason)

	_, err = b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_3", `{"user": {"email": "x@example.com"}}`, nil))
	var ue *entry.UnmappedError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "start", ue.Problems[0].NodeID)
	require.Equal(t, "profile_id", ue.Problems[0].Field)

	_, err = b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_4", `{"user": {"id": "u-2\u0000"}}`, nil))
	var ne *jsonlimit.NULError
	require.ErrorAs(t, err, &ne)

	_, err = b.svc.Webhook(b.ctx, b.signed(t, j.ID, "msg_5", `{"user": `, nil))
	var be *entry.BodyError
	require.ErrorAs(t, err, &be)

	req := b.signed(t, j.ID, "msg_6", body, nil)
	req.Body = []byte(`{"user": {"id": "forged"}}`)
	_, err = b.svc.Webhook(b.ctx, req)
	var ve *hooks.VerifyError
	require.ErrorAs(t, err, &ve)
}

func TestWebhookNeedsHooksAndEngine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := entry.New(entry.Deps{Store: b.store})
	_, err := svc.Webhook(b.ctx, entry.WebhookRequest{Key: "wh_x"})
	require.True(t, errors.Is(err, entry.ErrUnavailable))
}

// TestEventsEnterAndWriteProfiles: events are stored with their profile
// (created when new, its fields written when the event carries them) and
// enter event-triggered journeys.
func TestEventsEnterAndWriteProfiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := b.publish(t, eventJourney)
	email := "Bo@Example.com"
	evs := []entry.Event{
		{Name: "signup", ProfileID: " u-1 ", Profile: &profiles.Input{Email: &email}},
		{Name: "viewed", ProfileID: "u-2"},
	}
	var problems []profiles.Problem
	for i := range evs {
		problems = append(problems, evs[i].Validate("", time.Now())...)
	}
	require.Empty(t, problems)
	rs, err := b.svc.Events(b.ctx, store.DefaultWorkspaceID, evs)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, "u-1", rs[0].ProfileID)
	require.Len(t, rs[0].Entered, 1)
	run, err := b.store.GetRun(b.ctx, rs[0].Entered[0])
	require.NoError(t, err)
	require.Equal(t, j.ID, run.JourneyID)
	p, err := b.store.GetProfileByExternalID(b.ctx, store.DefaultWorkspaceID, "u-1")
	require.NoError(t, err)
	require.Equal(t, "bo@example.com", p.Email)
	require.Empty(t, rs[1].Entered)

	bad := entry.Event{Name: "", ProfileID: ""}
	require.Len(t, bad.Validate("events[0].", time.Now()), 2)
}
