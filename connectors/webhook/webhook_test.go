package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver verifies Standard Webhooks signatures the way a receiver's
// library does, independently of the sender's code.
type receiver struct {
	mu     sync.Mutex
	ids    []string
	bodies []string
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, s := range strings.Fields(sigs) {
		if v, sig, _ := strings.Cut(s, ","); v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || time.Since(time.Unix(n, 0)).Abs() > 5*time.Minute || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.ids = append(rc.ids, id)
	rc.bodies = append(rc.bodies, string(body))
	status := rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = 200
	}
	w.WriteHeader(status)
	io.WriteString(w, `{"received": true}`)
}

func build(t *testing.T, url string, opts ...netguard.Option) connectors.Instance {
	t.Helper()
	env, _ := ctest.Env(t)
	if opts != nil {
		env.Net = netguard.MustNew(opts...)
	}
	return ctest.Build(t, webhook.Type, env, map[string]any{"url": url, "secret": secret})
}

func TestSendSigned(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	c := build(t, srv.URL+"/hook")
	m := connectors.Message{DeliveryID: "d1", IdempotencyKey: "run1:4", Kind: "send_webhook", Payload: json.RawMessage(`{"user":"ada","score":3}`)}
	res, err := c.Send(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, "delivered", res.Status)
	require.Equal(t, []string{"run1:4"}, rc.ids)
	require.JSONEq(t, `{"user":"ada","score":3}`, rc.bodies[0])

	// A retry of the same step carries the same webhook-id.
	rc.status = 503
	_, err = c.Send(context.Background(), m)
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	rc.status = 0
	_, err = c.Send(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, []string{"run1:4", "run1:4", "run1:4"}, rc.ids)

	_, err = c.Send(context.Background(), connectors.Message{IdempotencyKey: "x", Payload: json.RawMessage(`{nope`)})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))

	rc.status = 422
	_, err = c.Send(context.Background(), m)
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))
	require.NotContains(t, err.Error(), "received", "response bodies are not shown in delivery errors")

	res2 := c.Test(context.Background(), "")
	require.False(t, res2.OK)
	rc.status = 0
	res2 = c.Test(context.Background(), "")
	require.True(t, res2.OK, res2.Detail)
	require.Contains(t, res2.Detail, `"received": true`, "the admin's test shows the answer")
}

func TestSSRF(t *testing.T) {
	t.Parallel()
	var internalHits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	t.Cleanup(internal.Close)

	// Literal internal addresses are refused when the connector is set up.
	for _, u := range []string{
		"https://127.0.0.1/hook", "https://[::1]/hook", "https://0x7f000001/hook", "https://2130706433/hook",
		"https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/", "https://[::ffff:10.0.0.1]/",
		"http://hooks.example.com/", "https://hooks.example.com:8443/", "ftp://hooks.example.com/",
		internal.URL,
	} {
		cfg, errs := webhook.Type.Normalize(map[string]any{"url": u, "secret": secret})
		require.Empty(t, errs)
		env, _ := ctest.Env(t)
		env.Net = netguard.MustNew()
		_, err := webhook.Type.New(connectors.Setup{Config: cfg, Env: env})
		var fp *connectors.FieldProblem
		require.ErrorAs(t, err, &fp, u)
		require.Equal(t, "url", fp.Field)
	}

	// A public-looking name that resolves to a private address is caught
	// at dial time, with the same generic error.
	res := resolver{"hooks.example.com": "10.0.0.1", "rebound.example.com": "127.0.0.1"}
	for _, host := range []string{"hooks.example.com", "rebound.example.com"} {
		c := build(t, "https://"+host+"/hook", netguard.WithResolver(res))
		_, err := c.Send(context.Background(), connectors.Message{IdempotencyKey: "k", Payload: json.RawMessage(`{}`)})
		require.Equal(t, connectors.Permanent, ctest.Class(t, err), "%v", err)
		require.Contains(t, err.Error(), netguard.ErrRefused.Error())
		require.NotContains(t, err.Error(), "10.0.0.1")
	}

	// A redirect to a private address is not followed.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/internal") {
			http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
			return
		}
		http.Redirect(w, r, "http://10.0.0.1/admin", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	for _, p := range []string{"/private", "/internal"} {
		c := build(t, redirector.URL+p)
		_, err := c.Send(context.Background(), connectors.Message{IdempotencyKey: "k", Payload: json.RawMessage(`{}`)})
		require.Equal(t, connectors.Permanent, ctest.Class(t, err))
		require.Contains(t, err.Error(), "redirects are not followed")
	}
	require.Zero(t, internalHits.Load())
}

type resolver map[string]string

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ip, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(ip)}, nil
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	}))
	t.Cleanup(srv.Close)
	c := build(t, srv.URL)
	m := connectors.Message{IdempotencyKey: "k", Payload: json.RawMessage(`{}`)}
	for i := 0; i < 5; i++ {
		_, err := c.Send(context.Background(), m)
		require.Equal(t, connectors.Transient, ctest.Class(t, err))
	}
	_, err := c.Send(context.Background(), m)
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	_, wait, reason := connectors.Classify(err)
	require.Contains(t, reason, "circuit open")
	require.Greater(t, wait, 20*time.Second)
	require.EqualValues(t, 5, hits.Load(), "the open circuit sends nothing")
}

func TestTimeoutAfterSending(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c := build(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, connectors.Message{IdempotencyKey: "k", Payload: json.RawMessage(`{}`)})
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Contains(t, err.Error(), "same webhook-id")
}

func TestSecretValidation(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"nope", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, errs := webhook.Type.Normalize(map[string]any{"url": "https://hooks.example.com", "secret": s})
		require.Len(t, errs, 1, s)
		require.Equal(t, "secret", errs[0].Field)
	}
}

// TestSignatureKnownAnswer checks Sign against the Standard Webhooks
// specification's published test vector.
func TestSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	key, err := webhook.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}
