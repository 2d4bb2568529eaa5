package ui_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/postmark"
	"github.com/waymarkhq/waymark/connectors/postmark/pmtest"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/sendgrid/sgtest"
	"github.com/waymarkhq/waymark/connectors/ses/sestest"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// emailWorld is the whole server with the real connector service and
// engine, sending through the providers' fakes.
type emailWorld struct {
	b     *uitest.Bundle
	conns *connectors.Service
	key   string
	sns   *sestest.SNS
}

func newEmailWorld(t *testing.T) *emailWorld {
	t.Helper()
	ctx := context.Background()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	keys, err := secrets.NewKeyring(k)
	require.NoError(t, err)
	sns := sestest.NewSNS(t)
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{
		Net: netguard.MustNew(netguard.AllowLoopbackForTests()), TLS: sns.RootCAs(), PublicURL: "https://waymark.example.com"})
	require.NoError(t, err)
	b := &uitest.Bundle{T: t, Ctx: ctx, Store: st, Tasks: &uitest.TaskRecorder{}, Logs: &uitest.LockedBuffer{}}
	b.Engine = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Enqueuer: b.Tasks,
		Suppressions: st, UnsubscribeURL: conns.UnsubscribeURL})
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 256 << 10}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg).WithConnectorTypes(creg.Serves), Connectors: conns, Engine: b.Engine,
		Hooks: b.NewHooks(), Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	return &emailWorld{b: b, conns: conns, key: b.APIKey(store.DefaultWorkspaceID, "admin"), sns: sns}
}

// connector creates a connector through the API and returns its id.
func (w *emailWorld) connector(typ, name string, config string) string {
	w.b.T.Helper()
	r := w.b.Call("POST", "/api/v1/connectors", w.key, []byte(fmt.Sprintf(`{"type": %q, "name": %q, "config": %s}`, typ, name, config)))
	require.Equal(w.b.T, 201, r.Status, string(r.Body))
	return r.JSON(w.b.T)["id"].(string)
}

// publish creates and publishes a journey: event → send_email via conn.
func (w *emailWorld) publish(name, event, conn string) {
	w.b.T.Helper()
	doc := fmt.Sprintf(`{"format": 1, "name": %q, "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": %q}},
		{"id": "mail", "kind": "send_email", "config": {"connector": %q, "subject": "Hi {{ profile.first_name }}",
		 "body": "<p>Hello {{ profile.first_name }}</p>"}}],
		"edges": [{"from": "start", "to": "mail"}]}`, name, event, conn)
	r := w.b.Call("POST", "/api/v1/journeys", w.key, []byte(doc))
	require.Equal(w.b.T, 201, r.Status, string(r.Body))
	r = w.b.Call("POST", "/api/v1/journeys/"+r.JSON(w.b.T)["id"].(string)+"/publish", w.key, nil)
	require.Equal(w.b.T, 200, r.Status, string(r.Body))
}

func (w *emailWorld) event(name, profile, email string) {
	w.b.T.Helper()
	r := w.b.Call("POST", "/api/v1/events", w.key, []byte(fmt.Sprintf(`{"events": [{"name": %q, "profile_id": %q,
		"profile": {"external_id": %q, "email": %q, "attributes": {"first_name": "Ada"}}}]}`, name, profile, profile, email)))
	require.Equal(w.b.T, 202, r.Status, string(r.Body))
	w.b.Drain(w.b.Engine)
}

// delivery returns the connector's only delivery.
func (w *emailWorld) deliveries(conn string) []store.Delivery {
	w.b.T.Helper()
	ds, _, err := w.b.Store.ListDeliveries(w.b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Connector: conn})
	require.NoError(w.b.T, err)
	return ds
}

func (w *emailWorld) callback(typ, id string, body []byte, headers map[string]string) int {
	w.b.T.Helper()
	req := httptest.NewRequest("POST", "/callbacks/"+typ+"/"+id, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := w.b.Server.App().Test(req, -1)
	require.NoError(w.b.T, err)
	return resp.StatusCode
}

// bounceThenSkip is the story each provider must tell: the first
// journey's email goes out through the provider; a forged bounce is
// refused; the provider's signed hard bounce fails the delivery and
// suppresses the address; the second journey's email to it is not sent.
func (w *emailWorld) bounceThenSkip(t *testing.T, conn, email string, sentCount func() int, providerID func() string,
	forged, bounce func(providerID string) int) {
	w.publish("Welcome via "+conn, "signed_up_"+conn, conn)
	w.publish("Offer via "+conn, "ordered_"+conn, conn)
	w.event("signed_up_"+conn, "p-"+conn, email)
	require.Equal(t, 1, sentCount(), "the first journey's email went through the provider")
	ds := w.deliveries(conn)
	require.Len(t, ds, 1)
	require.Equal(t, store.DeliverySent, ds[0].Status)
	require.Equal(t, providerID(), ds[0].ProviderID)

	require.Equal(t, 403, forged(ds[0].ProviderID), "a forged bounce is refused")
	suppressed, err := w.b.Store.IsSuppressed(w.b.Ctx, store.DefaultWorkspaceID, "email", email)
	require.NoError(t, err)
	require.False(t, suppressed)

	require.Equal(t, 204, bounce(ds[0].ProviderID))
	ds = w.deliveries(conn)
	require.Equal(t, store.DeliveryFailed, ds[0].Status)
	require.Contains(t, ds[0].Error, "hard bounce")
	sups, _, err := w.b.Store.ListSuppressions(w.b.Ctx, store.DefaultWorkspaceID, store.SuppressionFilter{})
	require.NoError(t, err)
	var found *store.Suppression
	for i := range sups {
		if sups[i].Address == email {
			found = &sups[i]
		}
	}
	require.NotNil(t, found, "the hard bounce suppressed the address")
	require.Equal(t, store.ReasonHardBounce, found.Reason)
	require.Equal(t, conn, found.Source)

	w.event("ordered_"+conn, "p-"+conn, email)
	require.Equal(t, 1, sentCount(), "the second journey's email was not sent")
	ds = w.deliveries(conn)
	statuses := map[string]int{}
	for _, d := range ds {
		statuses[d.Status]++
	}
	require.Equal(t, 1, statuses[store.DeliveryFailed], "%v", statuses)
	if len(ds) > 1 {
		require.Equal(t, 1, statuses[store.DeliverySuppressed], "%v", statuses)
	}
	p, err := w.b.Store.GetProfileByExternalID(w.b.Ctx, store.DefaultWorkspaceID, "p-"+conn)
	require.NoError(t, err)
	runs, err := w.b.Store.ListProfileRuns(w.b.Ctx, p.ID, "", time.Time{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	var outcomes []string
	for _, r := range runs {
		ledger, err := w.b.Store.ListRunSteps(w.b.Ctx, r.ID)
		require.NoError(t, err)
		last := ledger[len(ledger)-1]
		outcomes = append(outcomes, last.Outcome+":"+detailString(last.Detail, "reason"))
	}
	require.Contains(t, outcomes, "sent:")
	var skipped string
	for _, o := range outcomes {
		if o != "sent:" {
			skipped = o
		}
	}
	require.Contains(t, skipped, "suppress", "the second send was skipped as suppressed: %v", outcomes)
}

func TestEmailProvidersEndToEnd(t *testing.T) {
	t.Parallel()
	w := newEmailWorld(t)

	t.Run("ses", func(t *testing.T) {
		fake := sestest.NewSES(t, "AKIAIOSFODNN7EXAMPLE", "ses-secret", "eu-west-1")
		topic := "arn:aws:sns:eu-west-1:123456789012:ses-events"
		id := w.connector("ses", "ses-mail", fmt.Sprintf(`{"region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
			"secret_access_key": "ses-secret", "from": "Acme <news@acme.example>", "sns_topic_arns": %q, "endpoint": %q}`, topic, fake.URL))
		// SNS first asks to confirm the subscription.
		require.Equal(t, 204, w.callback("ses", id, w.sns.SubscriptionConfirmation(topic, "tok-1"), map[string]string{"Content-Type": "text/plain; charset=UTF-8"}))
		require.Equal(t, []string{"tok-1"}, w.sns.Confirmed())
		w.bounceThenSkip(t, "ses-mail", "ada.ses@example.com",
			func() int { return len(fake.Sent()) },
			func() string { return fake.Sent()[0].MessageID },
			func(pid string) int {
				other := sestest.NewSNS(t) // SNS-shaped, trusted host, but not the certificate the message names
				body := other.Notification(topic, sestest.BounceEvent(pid, "ada.ses@example.com", "Permanent"), "2")
				return w.callback("ses", id, bytes.Replace(body, []byte(other.URL), []byte(w.sns.URL), 1), nil)
			},
			func(pid string) int {
				return w.callback("ses", id, w.sns.Notification(topic, sestest.BounceEvent(pid, "ada.ses@example.com", "Permanent"), "1"), nil)
			})
		sent := fake.Sent()[0]
		require.Equal(t, "Hi Ada", sent.Request.Content.Simple.Subject.Data)
		require.Contains(t, fmt.Sprint(sent.Request.Content.Simple.Headers), "List-Unsubscribe-Post")
		require.Zero(t, fake.BadSignatures)
	})

	t.Run("sendgrid", func(t *testing.T) {
		api := sgtest.NewAPI(t, "SG.e2e.key")
		signer := sgtest.NewSigner()
		id := w.connector("sendgrid", "sg-mail", fmt.Sprintf(`{"api_key": "SG.e2e.key", "from": "Acme <news@acme.example>",
			"webhook_verification_key": %q, "base_url": %q}`, signer.PublicKey(), api.URL))
		w.bounceThenSkip(t, "sg-mail", "ada.sg@example.com",
			func() int { return len(api.Sent()) },
			func() string { return api.Sent()[0].MessageID },
			func(pid string) int {
				body := sgtest.Events("bounce", pid, "ada.sg@example.com", "", nil)
				return w.callback("sendgrid", id, body, sgtest.NewSigner().Headers(body))
			},
			func(pid string) int {
				body := sgtest.Events("bounce", pid, "ada.sg@example.com", api.Sent()[0].Request.CustomArgs["waymark_delivery_id"], nil)
				return w.callback("sendgrid", id, body, signer.Headers(body))
			})
		require.NotEmpty(t, api.Sent()[0].Request.CustomArgs["waymark_delivery_id"])
	})

	t.Run("postmark", func(t *testing.T) {
		api := pmtest.NewAPI(t, "pm-token")
		id := w.connector("postmark", "pm-mail", fmt.Sprintf(`{"server_token": "pm-token", "from": "Acme <news@acme.example>", "base_url": %q}`, api.URL))
		// Check connection shows the webhook URL with its credentials.
		r := w.b.Call("POST", "/api/v1/connectors/"+id+"/test", w.key, []byte(`{}`))
		require.Equal(t, 200, r.Status, string(r.Body))
		pass := postmark.WebhookPassword("pm-token", id)
		require.Contains(t, r.JSON(t)["detail"], "https://waymark:"+pass+"@waymark.example.com/callbacks/postmark/"+id)
		basic := func(p string) map[string]string {
			return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("waymark:"+p)), "Content-Type": "application/json"}
		}
		w.bounceThenSkip(t, "pm-mail", "ada.pm@example.com",
			func() int { return len(api.Sent()) },
			func() string { return api.Sent()[0].MessageID },
			func(pid string) int {
				return w.callback("postmark", id, pmtest.BounceWebhook(pid, "ada.pm@example.com", "HardBounce", true), basic("guess"))
			},
			func(pid string) int {
				return w.callback("postmark", id, pmtest.BounceWebhook(pid, "ada.pm@example.com", "HardBounce", true), basic(pass))
			})
	})

	// A delivery webhook marks the delivery delivered (Postmark's, on a
	// fresh send).
	t.Run("delivered", func(t *testing.T) {
		api := pmtest.NewAPI(t, "pm-token-2")
		id := w.connector("postmark", "pm-second", fmt.Sprintf(`{"server_token": "pm-token-2", "from": "news@acme.example", "base_url": %q}`, api.URL))
		w.publish("Delivered via postmark", "joined", "pm-second")
		w.event("joined", "p-delivered", "bo@example.com")
		require.Len(t, api.Sent(), 1)
		auth := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("waymark:"+postmark.WebhookPassword("pm-token-2", id)))}
		require.Equal(t, 204, w.callback("postmark", id, pmtest.DeliveryWebhook(api.Sent()[0].MessageID, "bo@example.com"), auth))
		require.Equal(t, store.DeliveryDelivered, w.deliveries("pm-second")[0].Status)
		// Another connector's credentials do not open this one.
		require.Equal(t, 403, w.callback("postmark", id, pmtest.DeliveryWebhook(api.Sent()[0].MessageID, "bo@example.com"),
			map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("waymark:"+postmark.WebhookPassword("pm-token", id)))}))
		// A callback to the wrong type's path is not found.
		require.Equal(t, 404, w.callback("sendgrid", id, []byte(`[]`), nil))
	})
}
