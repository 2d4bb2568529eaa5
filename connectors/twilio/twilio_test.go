package twilio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/twilio"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "s3cret-auth-token"
)

// fakeTwilio answers like Twilio's Messages API: Basic auth, form bodies,
// JSON errors with Twilio's codes. A recipient number picks the answer.
type fakeTwilio struct {
	mu       sync.Mutex
	requests []url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	user, pass, ok := r.BasicAuth()
	if !ok || user != sid || pass != token {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/2010-04-01/Accounts/"+sid+".json":
		fmt.Fprint(w, `{"sid": "`+sid+`", "friendly_name": "Acme marketing", "status": "active"}`)
		return
	case r.Method == "POST" && r.URL.Path == "/2010-04-01/Accounts/"+sid+"/Messages.json":
	default:
		w.WriteHeader(404)
		fmt.Fprint(w, `{"code": 20404, "message": "The requested resource was not found", "status": 404}`)
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(400)
		return
	}
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r.PostForm)
	f.mu.Unlock()
	errorFor := map[string]string{
		"+15005550001": `{"code": 21211, "message": "The 'To' number +15005550001 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
		"+15005550004": `{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}`,
		"+15005550002": `{"code": 21612, "message": "The 'To' phone number is not currently reachable via SMS", "status": 400}`,
		"+15005550009": `{"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400}`,
	}
	to := r.PostForm.Get("To")
	if body, ok := errorFor[to]; ok {
		w.WriteHeader(400)
		fmt.Fprint(w, body)
		return
	}
	switch to {
	case "+15005550429":
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
		fmt.Fprint(w, `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`)
		return
	case "+15005550500":
		w.WriteHeader(503)
		fmt.Fprint(w, `{"code": 20503, "message": "Service Unavailable", "status": 503}`)
		return
	case "+15005550999": // hangs up after reading the request
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	}
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("a", 32), "status": "queued", "to": to, "body": r.PostForm.Get("Body")})
}

func setup(t *testing.T, extra map[string]any) (connectors.Instance, *fakeTwilio, *ctest.Suppressions) {
	t.Helper()
	fake := &fakeTwilio{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	env, sup := ctest.Env(t)
	cfg := map[string]any{"account_sid": sid, "auth_token": token, "from": "+15017122661", "base_url": srv.URL}
	for k, v := range extra {
		cfg[k] = v
	}
	return ctest.Build(t, twilio.Type, env, cfg), fake, sup
}

func TestSend(t *testing.T) {
	t.Parallel()
	c, fake, _ := setup(t, nil)
	res, err := c.Send(context.Background(), connectors.Message{DeliveryID: "d1", Kind: "send_sms", Phone: "+15558675310", Text: "Hi Ada"})
	require.NoError(t, err)
	require.Equal(t, "sent", res.Status)
	require.True(t, strings.HasPrefix(res.ProviderID, "SM"))
	require.Len(t, fake.requests, 1)
	got := fake.requests[0]
	require.Equal(t, "+15558675310", got.Get("To"))
	require.Equal(t, "+15017122661", got.Get("From"))
	require.Equal(t, "Hi Ada", got.Get("Body"))
	require.Equal(t, "https://waymark.example.com/callbacks/twilio/c-1", got.Get("StatusCallback"))
	require.Empty(t, got.Get("MessagingServiceSid"))

	// A messaging service wins over From.
	c, fake, _ = setup(t, map[string]any{"messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "status_callbacks": false})
	_, err = c.Send(context.Background(), connectors.Message{Phone: "+15558675310", Text: "Hi"})
	require.NoError(t, err)
	require.Equal(t, "MG0123456789abcdef0123456789abcdef", fake.requests[0].Get("MessagingServiceSid"))
	require.Empty(t, fake.requests[0].Get("From"))
	require.Empty(t, fake.requests[0].Get("StatusCallback"))
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c, _, sup := setup(t, nil)
	ctx := context.Background()
	tests := []struct {
		name, to string
		class    connectors.Class
		reason   string
	}{
		{"invalid number", "+15005550001", connectors.Permanent, "21211"},
		{"cannot route", "+15005550002", connectors.Permanent, "21612"},
		{"not mobile", "+15005550009", connectors.Permanent, "21614"},
		{"unsubscribed", "+15005550004", connectors.Permanent, "21610"},
		{"rate limited", "+15005550429", connectors.Transient, "20429"},
		{"server error", "+15005550500", connectors.Transient, "503"},
		{"hung up after the request", "+15005550999", connectors.Unknown, "no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Send(ctx, connectors.Message{Phone: tt.to, Text: "x"})
			require.Equal(t, tt.class, ctest.Class(t, err), "%v", err)
			_, _, reason := connectors.Classify(err)
			require.Contains(t, reason, tt.reason)
			require.NotContains(t, err.Error(), token)
		})
	}
	_, err := c.Send(ctx, connectors.Message{Phone: "+15005550429", Text: "x"})
	_, wait, _ := connectors.Classify(err)
	require.Equal(t, 7*time.Second, wait, "Retry-After is honoured")
	_, err = c.Send(ctx, connectors.Message{Phone: "+15005550004", Text: "x"})
	require.True(t, errors.Is(err, connectors.ErrSuppressed))
	require.Contains(t, sup.All(), connectors.Suppression{Channel: store.SuppressSMS, Address: "+15005550004", Reason: store.ReasonStop})

	_, err = c.Send(ctx, connectors.Message{Text: "x"})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))

	// Wrong credentials: the account's problem, retried later.
	bad, _, _ := setup(t, map[string]any{"auth_token": "wrong"})
	_, err = bad.Send(ctx, connectors.Message{Phone: "+15558675310", Text: "x"})
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Contains(t, err.Error(), "20003")
}

func TestTestCall(t *testing.T) {
	t.Parallel()
	c, fake, _ := setup(t, nil)
	res := c.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "Acme marketing")
	res = c.Test(context.Background(), "+15558675310")
	require.True(t, res.OK, res.Detail)
	require.Len(t, fake.requests, 1)
	res = c.Test(context.Background(), "+15005550001")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "is not a valid phone number")

	bad, _, _ := setup(t, map[string]any{"auth_token": "wrong"})
	res = bad.Test(context.Background(), "")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "Authenticate")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, errs := twilio.Type.Normalize(map[string]any{"account_sid": "nope", "auth_token": "x"})
	require.ElementsMatch(t, []string{"account_sid", "from"}, fields(errs))
	_, errs = twilio.Type.Normalize(map[string]any{"account_sid": sid, "auth_token": "x", "messaging_service_sid": "XX1"})
	require.Equal(t, []string{"messaging_service_sid"}, fields(errs))
	// The SSRF guard refuses the metadata address, even with the test option.
	cfg, errs := twilio.Type.Normalize(map[string]any{"account_sid": sid, "auth_token": "x", "from": "+1", "base_url": "https://169.254.169.254"})
	require.Empty(t, errs)
	env2, _ := ctest.Env(t)
	_, err := twilio.Type.New(connectors.Setup{Config: cfg, Env: env2})
	var fp *connectors.FieldProblem
	require.ErrorAs(t, err, &fp)
	require.Equal(t, "base_url", fp.Field)
}

func fields(errs []nodes.FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Field
	}
	return out
}

func TestStatusCallback(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil)
	h := c.(connectors.CallbackHandler)
	u := "https://waymark.example.com/callbacks/twilio/c-1"
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {"+15558675310"}, "AccountSid": {sid}}
	sig := twilio.Signature(token, u, form)
	ups, err := h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u, Form: form, Header: map[string]string{"x-twilio-signature": sig}})
	require.NoError(t, err)
	require.Equal(t, []connectors.StatusUpdate{{ProviderID: "SM1", Status: store.DeliveryDelivered}}, ups)

	// Forged or replayed elsewhere: refused.
	_, err = h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u, Form: form, Header: map[string]string{"x-twilio-signature": "AAAA"}})
	require.ErrorIs(t, err, connectors.ErrBadSignature)
	_, err = h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u + "x", Form: form, Header: map[string]string{"x-twilio-signature": sig}})
	require.ErrorIs(t, err, connectors.ErrBadSignature)
	_, err = h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u, Form: form})
	require.ErrorIs(t, err, connectors.ErrBadSignature)

	failed := url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"21610"}, "To": {"+15558675310"}}
	ups, err = h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u, Form: failed, Header: map[string]string{"x-twilio-signature": twilio.Signature(token, u, failed)}})
	require.NoError(t, err)
	require.Len(t, ups, 1)
	require.Equal(t, store.DeliveryFailed, ups[0].Status)
	require.Contains(t, ups[0].Error, "21610")
	require.Equal(t, &connectors.Suppression{Channel: "sms", Address: "+15558675310", Reason: store.ReasonStop}, ups[0].Suppress)

	sent := url.Values{"MessageSid": {"SM3"}, "MessageStatus": {"sent"}}
	ups, err = h.HandleCallback(context.Background(), connectors.CallbackRequest{URL: u, Form: sent, Header: map[string]string{"x-twilio-signature": twilio.Signature(token, u, sent)}})
	require.NoError(t, err)
	require.Empty(t, ups, "interim statuses change nothing")
}

// TestSignatureKnownAnswer checks the algorithm against Twilio's
// documented example (docs "Webhooks security").
func TestSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	form := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}}
	got := twilio.Signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form)
	require.Equal(t, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", got)
}
