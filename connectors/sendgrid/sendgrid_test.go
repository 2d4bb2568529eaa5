package sendgrid_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/sendgrid"
	"github.com/waymarkhq/waymark/connectors/sendgrid/sgtest"
)

const apiKey = "SG.test-key-id.test-key-secret"

func setup(t *testing.T) (*sgtest.API, *sgtest.Signer, connectors.Instance) {
	t.Helper()
	api := sgtest.NewAPI(t, apiKey)
	signer := sgtest.NewSigner()
	env, _ := ctest.Env(t)
	conn := ctest.Build(t, sendgrid.Type, env, map[string]any{"api_key": apiKey, "from": "Acme <news@acme.example>", "reply_to": "Help <help@acme.example>",
		"webhook_verification_key": signer.PublicKey(), "base_url": api.URL})
	return api, signer, conn
}

func TestSend(t *testing.T) {
	t.Parallel()
	api, _, conn := setup(t)
	res, err := conn.Send(context.Background(), connectors.Message{DeliveryID: "d-1", IdempotencyKey: "run-1:3", Email: "ada@example.com",
		FromName: "Ada's shop", Subject: "Hello", HTML: "<p>Hi</p>", Text: "Hi", UnsubscribeURL: "https://waymark.example.com/u/tok"})
	require.NoError(t, err)
	sent := api.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, connectors.Result{ProviderID: sent[0].MessageID, Status: delivery.Sent, Detail: "SendGrid: accepted"}, res)
	r := sent[0].Request
	require.Equal(t, []sendgrid.Personalization{{To: []sendgrid.Address{{Email: "ada@example.com"}}}}, r.Personalizations)
	require.Equal(t, sendgrid.Address{Email: "news@acme.example", Name: "Ada's shop"}, r.From)
	require.Equal(t, &sendgrid.Address{Email: "help@acme.example", Name: "Help"}, r.ReplyTo)
	require.Equal(t, "Hello", r.Subject)
	require.Equal(t, []sendgrid.Content{{Type: "text/plain", Value: "Hi"}, {Type: "text/html", Value: "<p>Hi</p>"}}, r.Content)
	require.Equal(t, map[string]string{"waymark_delivery_id": "d-1", "waymark_idempotency_key": "run-1:3"}, r.CustomArgs)
	require.Equal(t, map[string]string{"X-Waymark-Delivery-Id": "d-1", "X-Waymark-Idempotency-Key": "run-1:3",
		"List-Unsubscribe": "<https://waymark.example.com/u/tok>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}, r.Headers)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	api, _, conn := setup(t)
	reset := strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10)
	for _, tc := range []struct {
		name    string
		status  int
		headers map[string]string
		class   connectors.Class
		minWait time.Duration
	}{
		{"rate limited with Retry-After", 429, map[string]string{"Retry-After": "9"}, connectors.Transient, 9 * time.Second},
		{"rate limited with reset", 429, map[string]string{"X-RateLimit-Reset": reset}, connectors.Transient, 20 * time.Second},
		{"bad request", 400, nil, connectors.Permanent, 0},
		{"forbidden sender", 403, nil, connectors.Transient, 5 * time.Minute},
		{"payload too large", 413, nil, connectors.Permanent, 0},
		{"server error", 500, nil, connectors.Transient, 0},
		{"gateway timeout", 504, nil, connectors.Unknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.FailNext(tc.status, "The from address does not match a verified Sender Identity.", tc.headers)
			_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
			class, wait, reason := connectors.Classify(err)
			require.Equal(t, tc.class, class, reason)
			require.GreaterOrEqual(t, wait, tc.minWait)
			require.Contains(t, reason, "SendGrid "+strconv.Itoa(tc.status))
		})
	}
	// A wrong key is the connector's setup: kept for later.
	env, _ := ctest.Env(t)
	bad := ctest.Build(t, sendgrid.Type, env, map[string]any{"api_key": "SG.wrong.key", "from": "news@acme.example", "base_url": api.URL})
	_, err := bad.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Contains(t, err.Error(), "authorization grant is invalid")
	require.False(t, bad.Test(context.Background(), "").OK)
}

func TestCheckConnection(t *testing.T) {
	t.Parallel()
	api, _, conn := setup(t)
	res := conn.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "https://waymark.example.com/callbacks/sendgrid/c-1")
	res = conn.Test(context.Background(), "ops@acme.example")
	require.True(t, res.OK, res.Detail)
	require.Len(t, api.Sent(), 1)
}

func callback(conn connectors.Instance, body []byte, headers map[string]string) ([]connectors.StatusUpdate, error) {
	h := map[string]string{"content-type": "application/json"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return conn.(connectors.CallbackHandler).HandleCallback(context.Background(), connectors.CallbackRequest{Header: h, Body: body})
}

func TestEventWebhook(t *testing.T) {
	t.Parallel()
	_, signer, conn := setup(t)
	sign := func(b []byte) ([]connectors.StatusUpdate, error) { return callback(conn, b, signer.Headers(b)) }
	mid := "W86EgYT6SQKk0lRflf0001"

	ups, err := sign(sgtest.Events("delivered", mid, "ada@example.com", "d-1", nil))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: mid, Status: delivery.Delivered}}, ups)

	ups, err = sign(sgtest.Events("bounce", mid, "ada@example.com", "d-1", nil))
	require.NoError(t, err)
	require.Len(t, ups, 1)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Contains(t, ups[0].Error, "hard bounce: 500 unknown recipient 5.0.0")
	require.Equal(t, &connectors.Suppression{Channel: "email", Address: "ada@example.com", Reason: delivery.ReasonHardBounce}, ups[0].Suppress)

	ups, err = sign(sgtest.Events("bounce", mid, "ada@example.com", "d-1", map[string]any{"type": "blocked", "reason": "550 blocked by policy"}))
	require.NoError(t, err)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Nil(t, ups[0].Suppress, "a blocked message is a soft bounce")

	ups, err = sign(sgtest.Events("dropped", mid, "ada@example.com", "d-1", nil))
	require.NoError(t, err)
	require.Equal(t, delivery.ReasonHardBounce, ups[0].Suppress.Reason)
	ups, err = sign(sgtest.Events("dropped", mid, "ada@example.com", "d-1", map[string]any{"reason": "Invalid SMTPAPI header"}))
	require.NoError(t, err)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Nil(t, ups[0].Suppress)

	ups, err = sign(sgtest.Events("spamreport", mid, "ada@example.com", "d-1", nil))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: mid, Suppress: &connectors.Suppression{Channel: "email", Address: "ada@example.com", Reason: delivery.ReasonComplaint}}}, ups)

	ups, err = sign(sgtest.Events("unsubscribe", mid, "ada@example.com", "d-1", nil))
	require.NoError(t, err)
	require.Equal(t, delivery.ReasonUnsubscribed, ups[0].Suppress.Reason)
	ups, err = sign(sgtest.Events("unsubscribe", mid, "ada@example.com", "", nil))
	require.NoError(t, err)
	require.Empty(t, ups, "another sender's unsubscribe on the same account")

	for _, kind := range []string{"processed", "deferred", "open", "click"} {
		ups, err = sign(sgtest.Events(kind, mid, "ada@example.com", "d-1", nil))
		require.NoError(t, err)
		require.Empty(t, ups, kind)
	}
}

func TestEventWebhookForgeries(t *testing.T) {
	t.Parallel()
	_, signer, conn := setup(t)
	body := sgtest.Events("bounce", "W86EgYT6SQKk0lRflf0001", "ada@example.com", "d-1", nil)
	h := signer.Headers(body)
	other := sgtest.NewSigner()

	cases := map[string]struct {
		body    []byte
		headers map[string]string
	}{
		"tampered body":   {[]byte(strings.Replace(string(body), "ada@", "bob@", 1)), h},
		"other timestamp": {body, map[string]string{sendgrid.HeaderSignature: h[sendgrid.HeaderSignature], sendgrid.HeaderTimestamp: "1513299570"}},
		"other key":       {body, other.Headers(body)},
		"no signature":    {body, map[string]string{sendgrid.HeaderTimestamp: h[sendgrid.HeaderTimestamp]}},
		"not base64":      {body, map[string]string{sendgrid.HeaderSignature: "%%%", sendgrid.HeaderTimestamp: h[sendgrid.HeaderTimestamp]}},
		"no headers":      {body, nil},
	}
	for name, tc := range cases {
		ups, err := callback(conn, tc.body, tc.headers)
		require.ErrorIs(t, err, connectors.ErrBadSignature, name)
		require.Empty(t, ups, name)
	}

	// Without a verification key, events are refused.
	api := sgtest.NewAPI(t, apiKey)
	env, _ := ctest.Env(t)
	nokey := ctest.Build(t, sendgrid.Type, env, map[string]any{"api_key": apiKey, "from": "news@acme.example", "base_url": api.URL})
	_, err := callback(nokey, body, h)
	require.ErrorIs(t, err, connectors.ErrBadSignature)
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "14c5d75ce93.dfd.64b469", sendgrid.MessageID("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"))
	require.Equal(t, "W86EgYT6SQKk0lRflfLRsA", sendgrid.MessageID("W86EgYT6SQKk0lRflfLRsA.recvd-5b8d8c9cc8-zt4hj-1-5F5A7B4E-1C.0"))
	require.Equal(t, "abc", sendgrid.MessageID("abc"))
}

func TestTypeChecks(t *testing.T) {
	t.Parallel()
	_, errs := sendgrid.Type.Normalize(sendgrid.Type.Example)
	require.Empty(t, errs)
	_, errs = sendgrid.Type.Normalize(map[string]any{"api_key": "key", "from": "nope", "webhook_verification_key": "bm90IGEga2V5"})
	fields := map[string]bool{}
	for _, e := range errs {
		fields[e.Field] = true
	}
	require.Equal(t, map[string]bool{"api_key": true, "from": true, "webhook_verification_key": true}, fields)
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
	conn := ctest.Build(t, sendgrid.Type, env, map[string]any{"api_key": apiKey, "from": "news@acme.example", "base_url": srv.URL})
	_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
	close(hang)
	require.Equal(t, connectors.Unknown, ctest.Class(t, err))
}
