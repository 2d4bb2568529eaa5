// Package webhook POSTs JSON to a URL an admin configures, signed with
// Standard Webhooks headers (webhook-id, webhook-timestamp,
// webhook-signature). The webhook-id is the step's idempotency key, the
// same on every retry, so receivers de-duplicate. Every connection goes
// through the SSRF guard; redirects are not followed; a per-host circuit
// breaker stops hammering a receiver that is down.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// SecretPrefix starts a Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// Type is the webhook connector type.
var Type = connectors.Type{
	Name:    "webhook",
	Title:   "Outbound webhook",
	Help:    "POSTs each send_webhook node's JSON payload to a URL, signed with Standard Webhooks headers so the receiver can verify it and de-duplicate retries by webhook-id.",
	Channel: connectors.ChannelWebhook,
	Kinds:   []string{connectors.KindSendWebhook},
	Fields: []nodes.Field{
		{Name: "url", Title: "URL", Type: nodes.String, Required: true, MaxLength: 2048, Placeholder: "https://hooks.example.com/waymark",
			Help: "Where to POST. HTTPS on port 443 (or 80); internal addresses are refused unless the operator allowlists the host. Redirects are not followed."},
		{Name: "secret", Title: "Signing secret", Type: nodes.String, Required: true, Secret: true, MaxLength: 256, Placeholder: "whsec_…",
			Help: "Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)). The receiver verifies webhook-signature with it."},
		{Name: "timeout_seconds", Title: "Timeout (seconds)", Type: nodes.Integer, Default: int64(10), Min: nodes.Bound(1), Max: nodes.Bound(30),
			Help: "How long to wait for the receiver's answer."},
	},
	// The receiver gets requests signed with the secret: signatures it could
	// replay to the real receiver.
	Destinations: []connectors.Destination{{Field: "url", Secrets: []string{"secret"}}},
	RateLimit:    connectors.Rate{PerSecond: 50, Burst: 50},
	Example:      map[string]any{"url": "https://hooks.example.com/waymark", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	Check: func(cfg nodes.Config) []nodes.FieldError {
		if _, err := DecodeSecret(cfg.String("secret")); err != nil {
			return []nodes.FieldError{{Field: "secret", Message: err.Error()}}
		}
		return nil
	},
	New: New,
}

// DecodeSecret returns the key bytes of a whsec_ secret.
func DecodeSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("want %s followed by base64", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("want %s followed by base64", SecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("the key must be 24 to 64 bytes, got %d", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one message.
func Sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Connector posts to one URL.
type Connector struct {
	url     *url.URL
	key     []byte
	env     connectors.Env
	client  *http.Client
	breaker *breaker
}

// New builds a connector; a URL the SSRF guard refuses is a problem with
// the url field.
func New(s connectors.Setup) (connectors.Instance, error) {
	u, err := s.Env.Net.CheckURL(s.Config.String("url"), netguard.Webhook)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "url", Message: err.Error()}
	}
	key, err := DecodeSecret(s.Config.String("secret"))
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "secret", Message: err.Error()}
	}
	timeout := time.Duration(s.Config.Int("timeout_seconds")) * time.Second
	return &Connector{url: u, key: key, env: s.Env,
		client:  s.Env.Net.HTTPClient(netguard.Webhook, timeout, s.Env.TLSConfig("")),
		breaker: newBreaker(s.Env.Clock)}, nil
}

// Send posts the message's payload.
func (c *Connector) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	body := []byte(m.Payload)
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		return connectors.Result{}, connectors.PermanentError("the payload is not valid JSON", nil)
	}
	id := m.IdempotencyKey
	if id == "" {
		id = m.DeliveryID
	}
	resp, err := c.post(ctx, id, body)
	if err != nil {
		return connectors.Result{}, err
	}
	detail := fmt.Sprintf("HTTP %d", resp.Status)
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		return connectors.Result{Status: "delivered", Detail: detail}, nil
	case resp.Status >= 300 && resp.Status < 400:
		return connectors.Result{}, connectors.PermanentError(detail+": redirects are not followed; configure the final URL", nil)
	case resp.Status == http.StatusRequestTimeout || resp.Status == http.StatusTooEarly || resp.Status == http.StatusTooManyRequests || resp.Status >= 500:
		return connectors.Result{}, connectors.TransientError(detail, httpx.RetryAfter(resp.Header, c.env.Clock()), nil)
	}
	// Response bodies are not echoed: they may hold the receiver's data,
	// and delivery errors are visible to every user of the workspace.
	return connectors.Result{}, connectors.PermanentError(detail, nil)
}

func (c *Connector) post(ctx context.Context, id string, body []byte) (*httpx.Response, error) {
	host := c.url.Host
	if wait := c.breaker.allow(host); wait > 0 {
		return nil, connectors.TransientError(fmt.Sprintf("circuit open for %s after repeated failures", c.url.Hostname()), wait, nil)
	}
	ts := c.env.Clock().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url.String(), bytes.NewReader(body))
	if err != nil {
		return nil, connectors.PermanentError("building the request", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Waymark-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(c.key, id, ts, body))
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		c.breaker.record(host, false)
		cerr := httpx.TransportError(ctx, err, wrote)
		if cl, _, reason := connectors.Classify(cerr); cl == connectors.Unknown {
			// Receivers de-duplicate by webhook-id, which is the same on
			// every retry: sending again is the Standard Webhooks contract.
			return nil, connectors.TransientError(reason+"; retried with the same webhook-id", 0, err)
		}
		return nil, cerr
	}
	c.breaker.record(host, resp.Status < 500 && resp.Status != http.StatusTooManyRequests)
	return resp, nil
}

// Test posts a waymark.test event and shows the receiver's answer (to the
// admin who asked only).
func (c *Connector) Test(ctx context.Context, _ string) connectors.TestResult {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	id := "test_" + base64.RawURLEncoding.EncodeToString(b)
	body, _ := json.Marshal(map[string]any{"type": "waymark.test", "timestamp": c.env.Clock().UTC().Format(time.RFC3339)})
	resp, err := c.post(ctx, id, body)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	detail := fmt.Sprintf("HTTP %d", resp.Status)
	if snip := httpx.Snippet(resp.Body, 300); snip != "" {
		detail += ": " + snip
	}
	return connectors.TestResult{OK: resp.Status >= 200 && resp.Status < 300, Detail: detail}
}

// breaker is a per-host circuit breaker: after threshold consecutive
// failures the host gets no requests for a cool-down (doubling up to a
// cap); then one request probes it.
type breaker struct {
	mu    sync.Mutex
	now   func() time.Time
	hosts map[string]*hostState
}

type hostState struct {
	failures  int
	openUntil time.Time
	cooldown  time.Duration
	probing   bool
}

const (
	breakerThreshold = 5
	breakerCooldown  = 30 * time.Second
	breakerMax       = 5 * time.Minute
)

func newBreaker(now func() time.Time) *breaker {
	return &breaker{now: now, hosts: map[string]*hostState{}}
}

// allow returns 0 if a request may go, or how long the circuit stays open.
func (b *breaker) allow(host string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hosts[host]
	if h == nil || h.failures < breakerThreshold {
		return 0
	}
	now := b.now()
	if now.Before(h.openUntil) {
		return h.openUntil.Sub(now)
	}
	if h.probing {
		return time.Second // one probe at a time
	}
	h.probing = true
	return 0
}

func (b *breaker) record(host string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hosts[host]
	if h == nil {
		h = &hostState{}
		b.hosts[host] = h
	}
	h.probing = false
	if ok {
		*h = hostState{}
		return
	}
	h.failures++
	if h.failures >= breakerThreshold {
		if h.cooldown == 0 {
			h.cooldown = breakerCooldown
		} else {
			h.cooldown = min(2*h.cooldown, breakerMax)
		}
		h.openUntil = b.now().Add(h.cooldown)
	}
}

// IdempotentSends reports whether re-sending after a crash is safe: receivers de-duplicate by webhook-id, the same on every attempt.
func (c *Connector) IdempotentSends() bool { return true }
