// Package sendgrid sends email through Twilio SendGrid's v3 Mail Send API
// (POST /v3/mail/send, Bearer API key; 202 with X-Message-Id) and takes
// its Event Webhook at /callbacks/sendgrid/{connector id}, verified with
// the Signed Event Webhook's ECDSA signature (X-Twilio-Email-Event-Webhook-
// Signature over the X-Twilio-Email-Event-Webhook-Timestamp header and the
// raw body) against the verification key configured on the connector.
package sendgrid

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/internal/mailx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// TypeName is the connector type's name (and its callback path segment).
const TypeName = "sendgrid"

// DefaultBaseURL is SendGrid's global API (the EU region's is
// https://api.eu.sendgrid.com).
const DefaultBaseURL = "https://api.sendgrid.com"

// Paths of the API calls.
const (
	SendPath   = "/v3/mail/send"
	ScopesPath = "/v3/scopes"
)

// Signed Event Webhook headers.
const (
	HeaderSignature = "X-Twilio-Email-Event-Webhook-Signature"
	HeaderTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Custom args every message carries (they come back on each event).
const (
	ArgDeliveryID     = "waymark_delivery_id"
	ArgIdempotencyKey = "waymark_idempotency_key"
)

// MaxEvents bounds one webhook batch.
const MaxEvents = 10000

// Type is the sendgrid connector type.
var Type = connectors.Type{
	Name:    TypeName,
	Title:   "SendGrid",
	Help:    "Sends email through Twilio SendGrid's Mail Send API and records deliveries, bounces, drops, spam reports and unsubscribes from its Signed Event Webhook.",
	Channel: connectors.ChannelEmail,
	Kinds:   []string{connectors.KindSendEmail},
	Fields: []nodes.Field{
		{Name: "api_key", Title: "API key", Type: nodes.String, Required: true, Secret: true, MaxLength: 256, Placeholder: "SG.…",
			Help: "A SendGrid API key with the Mail Send permission (and read access to scopes for Check connection)."},
		{Name: "from", Title: "From", Type: nodes.String, Required: true, MaxLength: 320, Placeholder: "Acme <news@acme.example>",
			Help: "Sender: a verified Sender Identity, optionally with a display name. A node's from_name overrides the name."},
		{Name: "reply_to", Title: "Reply-To", Type: nodes.String, MaxLength: 320, Help: "Where replies go, if not the From address."},
		{Name: "webhook_verification_key", Title: "Event Webhook verification key", Type: nodes.Text, MaxLength: 1024,
			Help: "The Signed Event Webhook's verification key (base64 ECDSA public key, from Settings › Mail Settings › Event Webhook). Events are refused without it."},
		{Name: "base_url", Title: "API base URL", Type: nodes.String, Default: DefaultBaseURL, MaxLength: 256,
			Help: "SendGrid's API: https://api.sendgrid.com, or https://api.eu.sendgrid.com for an EU subuser. HTTPS on port 443 only, unless the operator allowlists the host."},
	},
	// The API key goes to the API (Bearer).
	Destinations: []connectors.Destination{{Field: "base_url", Secrets: []string{"api_key"}}},
	RateLimit:    connectors.Rate{PerSecond: 100, Burst: 100},
	Example: map[string]any{"api_key": "SG.your-key-id.your-key-secret", "from": "Acme <news@acme.example>",
		"webhook_verification_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvJTQVMRCn31EsUCZMZaM1H07AcMEEcfo5Fg3y5VzsPKiT9SZT3sDBJIHiUN3y2vUssDuvcGflS0pfWq6fovyOw=="},
	Check: check,
	New:   New,
}

func check(cfg nodes.Config) []nodes.FieldError {
	var errs []nodes.FieldError
	if !strings.HasPrefix(cfg.String("api_key"), "SG.") {
		errs = append(errs, nodes.FieldError{Field: "api_key", Message: "want a SendGrid API key (SG.…)"})
	}
	errs = append(errs, mailx.CheckAddress(cfg, "from", true)...)
	errs = append(errs, mailx.CheckAddress(cfg, "reply_to", false)...)
	if k := cfg.String("webhook_verification_key"); k != "" {
		if _, err := ParsePublicKey(k); err != nil {
			errs = append(errs, nodes.FieldError{Field: "webhook_verification_key", Message: err.Error()})
		}
	}
	return errs
}

// ParsePublicKey reads the verification key SendGrid shows: base64 of a
// DER SubjectPublicKeyInfo (PEM armour is accepted too).
func ParsePublicKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
	s = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
	s = strings.Join(strings.Fields(s), "")
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("want the base64 verification key SendGrid shows")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a public key")
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an ECDSA public key")
	}
	return k, nil
}

// Connector sends through one SendGrid account.
type Connector struct {
	id      string
	base    *url.URL
	key     string
	from    *mail.Address
	replyTo string
	hookKey *ecdsa.PublicKey
	env     connectors.Env
	client  *http.Client
}

// New builds a connector from a validated config.
func New(s connectors.Setup) (connectors.Instance, error) {
	base, err := s.Env.Net.CheckURL(s.Config.String("base_url"), netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "base_url", Message: err.Error()}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	from, err := mail.ParseAddress(s.Config.String("from"))
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "from", Message: "want an email address"}
	}
	c := &Connector{id: s.ID, base: base, key: s.Config.String("api_key"), from: from, replyTo: s.Config.String("reply_to"), env: s.Env,
		client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig(""))}
	if k := s.Config.String("webhook_verification_key"); k != "" {
		if c.hookKey, err = ParsePublicKey(k); err != nil {
			return nil, &connectors.FieldProblem{Field: "webhook_verification_key", Message: err.Error()}
		}
	}
	return c, nil
}

// Address is an email with an optional name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Personalization is one envelope of a Mail Send request.
type Personalization struct {
	To         []Address         `json:"to"`
	CustomArgs map[string]string `json:"custom_args,omitempty"`
}

// Content is one body part.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// MailSend is the Mail Send request body, as far as Waymark uses it.
type MailSend struct {
	Personalizations []Personalization `json:"personalizations"`
	From             Address           `json:"from"`
	ReplyTo          *Address          `json:"reply_to,omitempty"`
	Subject          string            `json:"subject"`
	Content          []Content         `json:"content"`
	Headers          map[string]string `json:"headers,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
}

// Send calls Mail Send.
func (c *Connector) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	if m.Email == "" {
		return connectors.Result{}, connectors.PermanentError("the profile has no email address", nil)
	}
	if _, err := mail.ParseAddress(m.Email); err != nil {
		return connectors.Result{}, connectors.PermanentError(fmt.Sprintf("invalid recipient address %q", mailx.Clip(m.Email, 100)), nil)
	}
	text, html := mailx.Bodies(m)
	if text == "" && html == "" {
		return connectors.Result{}, connectors.PermanentError("the message is empty", nil)
	}
	from := mailx.Sender(c.from, m)
	req := MailSend{Personalizations: []Personalization{{To: []Address{{Email: m.Email}}}},
		From: Address{Email: from.Address, Name: from.Name}, Subject: m.Subject}
	if c.replyTo != "" {
		rt, _ := mail.ParseAddress(c.replyTo)
		req.ReplyTo = &Address{Email: rt.Address, Name: rt.Name}
	}
	// text/plain must come first, then text/html.
	if text != "" {
		req.Content = append(req.Content, Content{Type: "text/plain", Value: text})
	}
	if html != "" {
		req.Content = append(req.Content, Content{Type: "text/html", Value: html})
	}
	for _, h := range mailx.Headers(m) {
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		req.Headers[h.Name] = h.Value
	}
	if m.DeliveryID != "" || m.IdempotencyKey != "" {
		req.CustomArgs = map[string]string{}
		if m.DeliveryID != "" {
			req.CustomArgs[ArgDeliveryID] = m.DeliveryID
		}
		if m.IdempotencyKey != "" {
			req.CustomArgs[ArgIdempotencyKey] = m.IdempotencyKey
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return connectors.Result{}, connectors.PermanentError("encoding the request", err)
	}
	resp, err := c.do(ctx, http.MethodPost, SendPath, body)
	if err != nil {
		return connectors.Result{}, err
	}
	if resp.Status != http.StatusAccepted && resp.Status != http.StatusOK {
		return connectors.Result{}, c.classify(resp)
	}
	id := resp.Header.Get("X-Message-Id")
	if id == "" {
		return connectors.Result{}, connectors.UnknownError("SendGrid accepted the request but its answer has no X-Message-Id", nil)
	}
	return connectors.Result{ProviderID: id, Status: delivery.Sent, Detail: "SendGrid: accepted"}, nil
}

func (c *Connector) do(ctx context.Context, method, path string, body []byte) (*httpx.Response, error) {
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, connectors.PermanentError("building the request", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return nil, httpx.TransportError(ctx, err, wrote)
	}
	return resp, nil
}

// classify says what a SendGrid error means for the message.
func (c *Connector) classify(resp *httpx.Response) error {
	var e struct {
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(resp.Body, &e)
	reason := fmt.Sprintf("SendGrid %d", resp.Status)
	if len(e.Errors) > 0 {
		parts := make([]string, 0, len(e.Errors))
		for _, x := range e.Errors[:min(3, len(e.Errors))] {
			p := x.Message
			if x.Field != "" {
				p = x.Field + ": " + p
			}
			parts = append(parts, p)
		}
		reason += ": " + mailx.Clip(strings.Join(parts, "; "), 300)
	} else if len(resp.Body) > 0 {
		reason += ": " + httpx.Snippet(resp.Body, 200)
	}
	now := c.env.Clock()
	switch {
	case resp.Status == http.StatusTooManyRequests:
		wait := httpx.RetryAfter(resp.Header, now)
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil && wait == 0 {
			wait = min(max(time.Unix(reset, 0).Sub(now), 0), time.Hour)
		}
		return connectors.TransientError(reason, max(wait, time.Second), nil)
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		// The key, its permissions or the sender identity: the connector's
		// setup, not this recipient. Keep the message for when it is fixed.
		return connectors.TransientError(reason+" (check the connector's API key and sender identity)", 5*time.Minute, nil)
	case resp.Status == http.StatusGatewayTimeout:
		return connectors.UnknownError(reason, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, httpx.RetryAfter(resp.Header, now), nil)
	}
	return connectors.PermanentError(reason, nil)
}

// Test checks the key's permissions (GET /v3/scopes) or sends a test email.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	hook := c.webhookNote()
	if to != "" {
		return mailx.SendTest(ctx, c.Send, "SendGrid", "SendGrid", to, hook)
	}
	resp, err := c.do(ctx, http.MethodGet, ScopesPath, nil)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	if resp.Status != http.StatusOK {
		return connectors.TestResult{Detail: connectors.Describe(c.classify(resp))}
	}
	var sc struct {
		Scopes []string `json:"scopes"`
	}
	_ = json.Unmarshal(resp.Body, &sc)
	for _, s := range sc.Scopes {
		if s == "mail.send" {
			return connectors.TestResult{OK: true, Detail: "Connected: the API key may send mail. " + hook}
		}
	}
	return connectors.TestResult{Detail: "Connected, but the API key lacks the Mail Send permission (mail.send)"}
}

func (c *Connector) webhookNote() string {
	u := mailx.CallbackURL(c.env, TypeName, c.id)
	if u == "" {
		return "Events: set Waymark's public URL (WAYMARK_BASE_URL) to receive SendGrid events."
	}
	note := "Events: set the Event Webhook's HTTP Post URL to " + u + " and enable Signed Event Webhook"
	if c.hookKey == nil {
		return note + ", then paste its verification key in this connector."
	}
	return note + "."
}

// IdempotentSends reports whether re-sending after a crash is safe: Mail
// Send takes no idempotency key, so a second attempt is a second email
// (the message carries the step's key in custom_args and a header, so a
// duplicate is recognisable).
func (c *Connector) IdempotentSends() bool { return false }

// Verify checks a Signed Event Webhook request: the ECDSA signature over
// the timestamp header followed by the raw body.
func Verify(key *ecdsa.PublicKey, signature, timestamp string, body []byte) bool {
	if key == nil || signature == "" || timestamp == "" {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	return ecdsa.VerifyASN1(key, h.Sum(nil), sig)
}

// Event is one Event Webhook event, as far as Waymark reads it; custom
// args arrive as top-level fields.
type Event struct {
	Email          string `json:"email"`
	Event          string `json:"event"`
	SGMessageID    string `json:"sg_message_id"`
	Type           string `json:"type"` // bounce: "bounce" or "blocked"
	Reason         string `json:"reason"`
	Status         string `json:"status"`
	Response       string `json:"response"`
	DeliveryID     string `json:"waymark_delivery_id"`
	Classification string `json:"bounce_classification"`
}

// MessageID is the X-Message-Id an event's sg_message_id starts with
// (SendGrid appends ".filter…" or ".recvd-…").
func MessageID(sg string) string {
	for _, sep := range []string{".filter", ".recvd"} {
		if i := strings.Index(sg, sep); i > 0 {
			return sg[:i]
		}
	}
	return sg
}

// HandleCallback verifies an Event Webhook batch and turns its events into
// statuses.
func (c *Connector) HandleCallback(_ context.Context, req connectors.CallbackRequest) ([]connectors.StatusUpdate, error) {
	log := c.env.Log().With("connector_id", c.id)
	if c.hookKey == nil {
		log.Warn("SendGrid callback refused: the connector has no Event Webhook verification key")
		return nil, connectors.ErrBadSignature
	}
	if !Verify(c.hookKey, req.Header[strings.ToLower(HeaderSignature)], req.Header[strings.ToLower(HeaderTimestamp)], req.Body) {
		return nil, connectors.ErrBadSignature
	}
	var events []Event
	if err := json.Unmarshal(req.Body, &events); err != nil {
		log.Warn("SendGrid callback: signed body is not an event list", "error", err.Error())
		return nil, nil
	}
	if len(events) > MaxEvents {
		events = events[:MaxEvents]
	}
	var out []connectors.StatusUpdate
	for _, e := range events {
		if u, ok := EventUpdate(e); ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// EventUpdate says what one event means: delivered delivers; a bounce
// (type bounce) fails the delivery and suppresses the address
// (hard_bounce), a blocked bounce only fails it; dropped fails it (and a
// drop for an address SendGrid already suppresses for a bounce, a spam
// report or an unsubscribe suppresses it here too); spamreport suppresses
// (complaint); unsubscribe and group_unsubscribe of Waymark's messages
// suppress (unsubscribed). Other events change nothing.
func EventUpdate(e Event) (connectors.StatusUpdate, bool) {
	u := connectors.StatusUpdate{ProviderID: MessageID(e.SGMessageID)}
	detail := mailx.Clip(strings.TrimSpace(e.Reason+" "+e.Status), 300)
	switch e.Event {
	case "delivered":
		u.Status = delivery.Delivered
	case "bounce":
		u.Status = delivery.Failed
		if e.Type == "blocked" {
			u.Error = "SendGrid: blocked (soft bounce): " + detail
		} else {
			u.Error = "SendGrid: hard bounce: " + detail
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonHardBounce)
		}
	case "dropped":
		u.Status = delivery.Failed
		u.Error = "SendGrid: dropped: " + detail
		switch e.Reason {
		case "Bounced Address":
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonHardBounce)
		case "Spam Reporting Address":
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonComplaint)
		case "Unsubscribed Address":
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonUnsubscribed)
		}
	case "spamreport":
		u.Suppress = mailx.Suppress(e.Email, delivery.ReasonComplaint)
	case "unsubscribe", "group_unsubscribe":
		if e.DeliveryID == "" {
			return u, false // another sender's list on the same account
		}
		u.Suppress = mailx.Suppress(e.Email, delivery.ReasonUnsubscribed)
	default:
		return u, false
	}
	if u.ProviderID == "" && u.Suppress == nil {
		return u, false
	}
	return u, true
}
