package ses_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/ses"
	"github.com/waymarkhq/waymark/connectors/ses/sestest"
)

const (
	keyID  = "AKIAIOSFODNN7EXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	topic  = "arn:aws:sns:us-east-1:123456789012:ses-events"
)

type bundle struct {
	fake *sestest.SES
	sns  *sestest.SNS
	conn connectors.Instance
	sup  *ctest.Suppressions
}

func setup(t *testing.T, extra map[string]any) *bundle {
	t.Helper()
	fake := sestest.NewSES(t, keyID, secret, "us-east-1")
	sns := sestest.NewSNS(t)
	env, sup := ctest.Env(t)
	env.TLS = sns.RootCAs()
	raw := map[string]any{"region": "us-east-1", "access_key_id": keyID, "secret_access_key": secret, "from": "Acme <news@acme.example>",
		"reply_to": "help@acme.example", "configuration_set": "waymark", "sns_topic_arns": topic, "endpoint": fake.URL}
	for k, v := range extra {
		raw[k] = v
	}
	return &bundle{fake: fake, sns: sns, conn: ctest.Build(t, ses.Type, env, raw), sup: sup}
}

func TestSendSignedRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res, err := b.conn.Send(context.Background(), connectors.Message{DeliveryID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", IdempotencyKey: "run-1:3",
		Kind: connectors.KindSendEmail, Email: "ada@example.com", FromName: "Ada's café", Subject: "Hello Ada", HTML: "<p>Hi <b>Ada</b></p>",
		UnsubscribeURL: "https://waymark.example.com/u/tok123"})
	require.NoError(t, err)
	sent := b.fake.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, sent[0].MessageID, res.ProviderID)
	require.Equal(t, delivery.Sent, res.Status)
	r := sent[0].Request
	require.Equal(t, "=?utf-8?b?QWRhJ3MgY2Fmw6k=?= <news@acme.example>", r.FromEmailAddress)
	require.Equal(t, []string{"ada@example.com"}, r.Destination.ToAddresses)
	require.Equal(t, []string{"help@acme.example"}, r.ReplyToAddresses)
	require.Equal(t, "waymark", r.ConfigurationSetName)
	require.Equal(t, ses.Part{Data: "Hello Ada", Charset: "UTF-8"}, r.Content.Simple.Subject)
	require.Equal(t, "<p>Hi <b>Ada</b></p>", r.Content.Simple.Body.HTML.Data)
	require.Equal(t, "Hi Ada", r.Content.Simple.Body.Text.Data, "a text part is made from the HTML")
	require.Equal(t, []ses.MessageHead{
		{Name: "X-Waymark-Delivery-Id", Value: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		{Name: "X-Waymark-Idempotency-Key", Value: "run-1:3"},
		{Name: "List-Unsubscribe", Value: "<https://waymark.example.com/u/tok123>"},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
	}, r.Content.Simple.Headers)
	require.Equal(t, []ses.Tag{{Name: "waymark_delivery_id", Value: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, {Name: "waymark_idempotency_key", Value: "run-1_3"}}, r.EmailTags)
	require.Contains(t, sent[0].Header.Get("Authorization"), "Credential="+keyID+"/")
	require.Zero(t, b.fake.BadSignatures)

	// A transactional message has no List-Unsubscribe.
	_, err = b.conn.Send(context.Background(), connectors.Message{DeliveryID: "d2", Email: "bo@example.com", Subject: "Receipt", Text: "Thanks"})
	require.NoError(t, err)
	r = b.fake.Sent()[1].Request
	require.Nil(t, r.Content.Simple.Body.HTML)
	for _, h := range r.Content.Simple.Headers {
		require.NotEqual(t, "List-Unsubscribe", h.Name)
	}
}

func TestWrongSecretIsRefusedByTheFake(t *testing.T) {
	t.Parallel()
	fake := sestest.NewSES(t, keyID, secret, "us-east-1")
	env, _ := ctest.Env(t)
	conn := ctest.Build(t, ses.Type, env, map[string]any{"region": "us-east-1", "access_key_id": keyID, "secret_access_key": "not-the-secret",
		"from": "news@acme.example", "endpoint": fake.URL})
	_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Contains(t, err.Error(), "SignatureDoesNotMatch")
	require.Contains(t, err.Error(), "check the connector's credentials")
	require.Equal(t, 1, fake.BadSignatures)
	require.Empty(t, fake.Sent())
}

func TestClassify(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		name        string
		status      int
		typ, msg    string
		retryAfter  string
		class       connectors.Class
		wait        time.Duration
		wantInError string
	}{
		{"throttled", 429, "TooManyRequestsException", "Too many requests", "7", connectors.Transient, 7 * time.Second, "TooManyRequestsException"},
		{"daily quota", 400, "LimitExceededException", "Daily message quota exceeded", "", connectors.Transient, time.Hour, "daily quota"},
		{"rejected", 400, "MessageRejected", "Email address is not verified.", "", connectors.Permanent, 0, "Email address is not verified"},
		{"bad request", 400, "BadRequestException", "Missing final '@domain'", "", connectors.Permanent, 0, "BadRequestException"},
		{"paused", 400, "SendingPausedException", "Sending is paused", "", connectors.Transient, 5 * time.Minute, "check the SES account"},
		{"server", 503, "ServiceUnavailable", "try later", "2", connectors.Transient, 2 * time.Second, "503"},
		{"gateway timeout", 504, "InternalFailure", "timeout", "", connectors.Unknown, 0, "504"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.fake.FailNext(tc.status, tc.typ, tc.msg, tc.retryAfter)
			_, err := b.conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
			class, wait, reason := connectors.Classify(err)
			require.Equal(t, tc.class, class, reason)
			require.Equal(t, tc.wait, wait)
			require.Contains(t, reason, tc.wantInError)
		})
	}
	_, err := b.conn.Send(context.Background(), connectors.Message{Email: "not an address", Subject: "x", Text: "y"})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))
	_, err = b.conn.Send(context.Background(), connectors.Message{Subject: "x", Text: "y"})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))
}

func TestTimeoutAfterSendIsUnknown(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := newHangingServer(t, hang)
	env, _ := ctest.Env(t)
	env.HTTPTimeout = 200 * time.Millisecond
	conn := ctest.Build(t, ses.Type, env, map[string]any{"region": "us-east-1", "access_key_id": keyID, "secret_access_key": secret,
		"from": "news@acme.example", "endpoint": srv})
	_, err := conn.Send(context.Background(), connectors.Message{Email: "ada@example.com", Subject: "x", Text: "y"})
	close(hang)
	require.Equal(t, connectors.Unknown, ctest.Class(t, err))
}

func TestCheckConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	res := b.conn.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "production access")
	require.Contains(t, res.Detail, "https://waymark.example.com/callbacks/ses/c-1")
	res = b.conn.Test(context.Background(), "ops@acme.example")
	require.True(t, res.OK, res.Detail)
	require.Len(t, b.fake.Sent(), 1)
	require.Equal(t, "Waymark test message", b.fake.Sent()[0].Request.Content.Simple.Subject.Data)
	require.False(t, b.conn.Test(context.Background(), "nope").OK)
}

func TestTypeChecks(t *testing.T) {
	t.Parallel()
	_, errs := ses.Type.Normalize(ses.Type.Example)
	require.Empty(t, errs)
	_, errs = ses.Type.Normalize(map[string]any{"region": "mars", "access_key_id": "akia", "secret_access_key": "s", "from": "x",
		"sns_topic_arns": "arn:aws:sqs:us-east-1:123456789012:q", "configuration_set": "a b"})
	fields := map[string]bool{}
	for _, e := range errs {
		fields[e.Field] = true
	}
	require.Equal(t, map[string]bool{"region": true, "access_key_id": true, "from": true, "sns_topic_arns": true, "configuration_set": true}, fields)
	many := strings.Repeat(topic+"\n", 1)
	for i := 0; i < 11; i++ {
		many += strings.Replace(topic, "ses-events", "t"+string(rune('a'+i)), 1) + "\n"
	}
	_, errs = ses.Type.Normalize(map[string]any{"region": "us-east-1", "access_key_id": keyID, "secret_access_key": "s", "from": "a@b.c", "sns_topic_arns": many})
	require.Len(t, errs, 1)
	require.Equal(t, "sns_topic_arns", errs[0].Field)

	// The endpoint goes through the SSRF guard.
	env, _ := ctest.Env(t)
	cfg, errs := ses.Type.Normalize(map[string]any{"region": "us-east-1", "access_key_id": keyID, "secret_access_key": "s", "from": "a@b.c", "endpoint": "https://10.0.0.8"})
	require.Empty(t, errs)
	_, err := ses.Type.New(connectors.Setup{ID: "x", Config: cfg, Env: env})
	var fp *connectors.FieldProblem
	require.ErrorAs(t, err, &fp)
	require.Equal(t, "endpoint", fp.Field)
}

func callback(t *testing.T, conn connectors.Instance, body []byte) ([]connectors.StatusUpdate, error) {
	t.Helper()
	return conn.(connectors.CallbackHandler).HandleCallback(context.Background(), connectors.CallbackRequest{
		Header: map[string]string{"x-amz-sns-message-type": "Notification", "content-type": "text/plain; charset=UTF-8"}, Body: body})
}

func TestSNSCallbacks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	msgID := "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"

	// The subscription is confirmed by visiting SubscribeURL.
	ups, err := callback(t, b.conn, b.sns.SubscriptionConfirmation(topic, "2336412f37fb687f5d51e6e2425f004aed"))
	require.NoError(t, err)
	require.Empty(t, ups)
	require.Equal(t, []string{"2336412f37fb687f5d51e6e2425f004aed"}, b.sns.Confirmed())

	// A hard bounce, signed with either signature version, fails the
	// delivery and suppresses the address.
	for _, version := range []string{"1", "2"} {
		ups, err = callback(t, b.conn, b.sns.Notification(topic, sestest.BounceEvent(msgID, "recipient@example.com", "Permanent"), version))
		require.NoError(t, err, version)
		require.Len(t, ups, 1)
		require.Equal(t, msgID, ups[0].ProviderID)
		require.Equal(t, delivery.Failed, ups[0].Status)
		require.Contains(t, ups[0].Error, "hard bounce: General smtp; 550 5.1.1 user unknown")
		require.Equal(t, &connectors.Suppression{Channel: "email", Address: "recipient@example.com", Reason: delivery.ReasonHardBounce}, ups[0].Suppress)
	}
	require.Equal(t, 1, b.sns.CertFetches(), "the signing certificate is cached")

	// A soft bounce only fails the delivery.
	ups, err = callback(t, b.conn, b.sns.Notification(topic, sestest.BounceEvent(msgID, "recipient@example.com", "Transient"), "2"))
	require.NoError(t, err)
	require.Equal(t, delivery.Failed, ups[0].Status)
	require.Nil(t, ups[0].Suppress)
	require.Contains(t, ups[0].Error, "soft bounce")

	// Delivery and complaint.
	ups, err = callback(t, b.conn, b.sns.Notification(topic, sestest.DeliveryEvent(msgID, "recipient@example.com"), "2"))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: msgID, Status: delivery.Delivered}}, ups)
	ups, err = callback(t, b.conn, b.sns.Notification(topic, sestest.ComplaintEvent(msgID, "recipient@example.com"), "2"))
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: msgID, Suppress: &connectors.Suppression{Channel: "email", Address: "recipient@example.com", Reason: delivery.ReasonComplaint}}}, ups)

	// A signed notification that is not an SES event is acknowledged.
	ups, err = callback(t, b.conn, b.sns.Notification(topic, "hello from the console", "2"))
	require.NoError(t, err)
	require.Empty(t, ups)
}

func TestSNSForgeries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	msgID := "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
	good := string(b.sns.Notification(topic, sestest.BounceEvent(msgID, "recipient@example.com", "Permanent"), "2"))

	forged := map[string]string{
		"changed recipient": strings.Replace(good, `recipient@example.com`, `victim@example.com`, 1),
		"other topic": string(b.sns.Notification("arn:aws:sns:us-east-1:999999999999:attacker",
			sestest.BounceEvent(msgID, "victim@example.com", "Permanent"), "2")),
		"certificate off SNS":  strings.Replace(good, b.sns.URL, "https://sns.us-east-1.amazonaws.com.evil.example", 1),
		"certificate not .pem": strings.Replace(good, ".pem", ".txt", 1),
		"unknown version":      strings.Replace(good, `"SignatureVersion":"2"`, `"SignatureVersion":"3"`, 1),
		"not json":             "Type=Notification",
		"empty":                "",
	}
	for name, body := range forged {
		ups, err := callback(t, b.conn, []byte(body))
		require.ErrorIs(t, err, connectors.ErrBadSignature, name)
		require.Empty(t, ups, name)
	}
	// A subscription to another topic is not confirmed.
	_, err := callback(t, b.conn, b.sns.SubscriptionConfirmation("arn:aws:sns:us-east-1:999999999999:attacker", "tok"))
	require.ErrorIs(t, err, connectors.ErrBadSignature)
	require.Empty(t, b.sns.Confirmed())
}

func TestCheckSNSURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem":             true,
		"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem":         true,
		"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem":              false,
		"https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem":        false,
		"https://sns.us-east-1.amazonaws.com.evil.example/x.pem":                            false,
		"https://evil.example/sns.us-east-1.amazonaws.com/x.pem":                            false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":                                    false,
		"https://sns.us-east-1.amazonaws.com/x.txt":                                         false,
		"https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem":                        false,
		"https://sqs.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem":             false,
		"https://sns.us-east-1.amazonaws.com%2F@evil.example/SimpleNotificationService.pem": false,
	} {
		_, err := ses.CheckSNSURL(raw, true)
		require.Equal(t, ok, err == nil, raw)
	}
}

func newHangingServer(t *testing.T, hang chan struct{}) string {
	t.Helper()
	srv := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	return srv
}
