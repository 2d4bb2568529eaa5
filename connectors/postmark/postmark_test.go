package postmark_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/postmark"
	"github.com/waymarkhq/waymark/connectors/postmark/pmtest"
)

const token = "server-token-123"

func setup(t *testing.T) (*pmtest.API, connectors.Instance, *ctest.Suppressions) {
	t.Helper()
	api := pmtest.NewAPI(t, token)
	env, sup := ctest.Env(t)
	conn := ctest.Build(t, postmark.Type, env, map[string]any{"server_token": token, "from": "Acme <news@acme.example>",
		"reply_to": "help@acme.example", "message_stream": "broadcast", "base_url": api.URL})
	return api, conn, sup
}

func TestSend(t *testing.T) {
	t.Parallel()
	api, conn, _ := setup(t)
	res, err := conn.Send(context.Background(), connectors.Message{DeliveryID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", IdempotencyKey: "run-1:3",
		Email: "ada@example.com", Subject: "Hello", HTML: "<p>Hi</p>", UnsubscribeURL: "https://waymark.example.com/u/tok"})
	require.NoError(t, err)
	sent := api.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, sent[0].MessageID, res.ProviderID)
	require.Equal(t, postmark.Email{From: "\"Acme\" <news@acme.example>", To: "ada@example.com", ReplyTo: "help@acme.example", Subject: "Hello",
		HTMLBody: "<p>Hi</p>", TextBody: "Hi", MessageStream: "broadcast",
		Headers: []postmark.Header{{Name: "X-Waymark-Delivery-Id", Value: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, {Name: "X-Waymark-Idempotency-Key", Value: "run-1:3"},
			{Name: "List-Unsubscribe", Value: "<https://waymark.example.com/u/tok>"}, {Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"}},
		Metadata: map[string]string{"waymark_delivery": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "waymark_idem_key": "run-1:3"}}, sent[0].Request)
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	api, conn, sup := setup(t)
	api.Deactivate("gone@example.com")
	_, err := conn.Send(context.Background(), connectors.Message{Email: "gone@example.com", Subject: "x", Text: "y"})
	require.ErrorIs(t, err, connectors.ErrSuppressed)
	require.Equal(t, []connectors.Suppression{{Channel: "email", Address: "gone@example.com", Reason: delivery.ReasonHardBounce}}, sup.All())

	for _, tc := range []struct {
		name         string
		status, code int
		class        connectors.Class
		wait         time.Duration
	}{
		{"invalid email request", 422, 300, connectors.Permanent, 0},
		{"sender signature not confirmed", 422, 401, connectors.Transient, 5 * time.Minute},
		{"stream not found", 422, 1235, connectors.Transient, 5 * time.Minute},
		{"bad token", 401, 10, connectors.Transient, 5 * time.Minute},
		{"rate limited", 429, 0, connectors.Transient, time.Second},
		{"server error", 500, 0, connectors.Transient, 0},
		{"gateway timeout", 504, 0, connectors.Unknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.FailNext(tc.status, tc.code, "something went wrong")
			_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
			class, wait, reason := connectors.Classify(err)
			require.Equal(t, tc.class, class, reason)
			require.Equal(t, tc.wait, wait)
		})
	}
}

func TestCheckConnectionShowsWebhookCredentials(t *testing.T) {
	t.Parallel()
	api, conn, _ := setup(t)
	res := conn.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	hook := conn.(*postmark.Connector).WebhookURL()
	u, err := url.Parse(hook)
	require.NoError(t, err)
	pass, _ := u.User.Password()
	require.Equal(t, "https://waymark.example.com/callbacks/postmark/c-1", strings.Replace(hook, u.User.String()+"@", "", 1))
	require.Equal(t, postmark.WebhookPassword(token, "c-1"), pass)
	require.Len(t, pass, 32)
	require.Contains(t, res.Detail, hook)
	require.NotEqual(t, pass, postmark.WebhookPassword("other-token", "c-1"))
	require.NotEqual(t, pass, postmark.WebhookPassword(token, "c-2"))
	require.True(t, conn.Test(context.Background(), "ops@acme.example").OK)
	require.Len(t, api.Sent(), 1)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func callback(conn connectors.Instance, auth string, body []byte) ([]connectors.StatusUpdate, error) {
	h := map[string]string{"content-type": "application/json"}
	if auth != "" {
		h["authorization"] = auth
	}
	return conn.(connectors.CallbackHandler).HandleCallback(context.Background(), connectors.CallbackRequest{Header: h, Body: body})
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	_, conn, _ := setup(t)
	auth := basic(postmark.WebhookUser, postmark.WebhookPassword(token, "c-1"))
	mid := "883953f4-6105-42a2-a16a-77a8eac79483"
	sup := func(addr, reason string) *connectors.Suppression {
		return &connectors.Suppression{Channel: "email", Address: addr, Reason: reason}
	}

	ups, err := callback(conn, auth, pmtest.DeliveryWebhook(mid, "john@example.com"))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: mid, Status: delivery.Delivered}}, ups)

	ups, err = callback(conn, auth, pmtest.BounceWebhook(mid, "john@example.com", "HardBounce", true))
	require.NoError(t, err)
	require.Len(t, ups, 1)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Equal(t, sup("john@example.com", delivery.ReasonHardBounce), ups[0].Suppress)
	require.Contains(t, ups[0].Error, "hard bounce (Hard bounce: Test bounce details)")

	ups, err = callback(conn, auth, pmtest.BounceWebhook(mid, "john@example.com", "SoftBounce", false))
	require.NoError(t, err)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Nil(t, ups[0].Suppress)
	require.Contains(t, ups[0].Error, "soft bounce")

	ups, err = callback(conn, auth, pmtest.BounceWebhook(mid, "john@example.com", "Transient", false))
	require.NoError(t, err)
	require.Empty(t, ups, "a delay is not a failure")

	ups, err = callback(conn, auth, pmtest.SpamComplaintWebhook(mid, "john@example.com"))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: mid, Suppress: sup("john@example.com", delivery.ReasonComplaint)}}, ups)

	for reason, want := range map[string]string{"HardBounce": delivery.ReasonHardBounce, "SpamComplaint": delivery.ReasonComplaint, "ManualSuppression": delivery.ReasonUnsubscribed} {
		ups, err = callback(conn, auth, pmtest.SubscriptionChangeWebhook(mid, "bounced-address@wildbit.com", true, reason))
		require.NoError(t, err)
		require.Equal(t, sup("bounced-address@wildbit.com", want), ups[0].Suppress, reason)
	}
	ups, err = callback(conn, auth, pmtest.SubscriptionChangeWebhook(mid, "bounced-address@wildbit.com", false, ""))
	require.NoError(t, err)
	require.Empty(t, ups)

	ups, err = callback(conn, auth, []byte(`not json`))
	require.NoError(t, err, "an authenticated but unreadable body is acknowledged, not retried forever")
	require.Empty(t, ups)
}

func TestWebhookCredentials(t *testing.T) {
	t.Parallel()
	_, conn, _ := setup(t)
	body := pmtest.BounceWebhook("883953f4-6105-42a2-a16a-77a8eac79483", "john@example.com", "HardBounce", true)
	good := postmark.WebhookPassword(token, "c-1")
	for name, auth := range map[string]string{
		"none":            "",
		"wrong password":  basic(postmark.WebhookUser, good[:31]+"x"),
		"wrong user":      basic("admin", good),
		"other connector": basic(postmark.WebhookUser, postmark.WebhookPassword(token, "c-2")),
		"bearer":          "Bearer " + good,
		"not base64":      "Basic %%%",
		"no colon":        "Basic " + base64.StdEncoding.EncodeToString([]byte(good)),
	} {
		ups, err := callback(conn, auth, body)
		require.ErrorIs(t, err, connectors.ErrBadSignature, name)
		require.Empty(t, ups, name)
	}
}

func TestTypeChecks(t *testing.T) {
	t.Parallel()
	_, errs := postmark.Type.Normalize(postmark.Type.Example)
	require.Empty(t, errs)
	_, errs = postmark.Type.Normalize(map[string]any{"server_token": "t", "from": "x", "message_stream": "Has Spaces"})
	require.Len(t, errs, 2)
}

func TestTimeoutAfterSendIsUnknown(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	env, _ := ctest.Env(t)
	env.HTTPTimeout = 200 * time.Millisecond
	conn := ctest.Build(t, postmark.Type, env, map[string]any{"server_token": token, "from": "news@acme.example", "base_url": srv.URL})
	_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
	close(hang)
	require.Equal(t, connectors.Unknown, ctest.Class(t, err))
}
