// Package postmark sends email through Postmark's API (POST /email with
// X-Postmark-Server-Token) and takes its webhooks at
// /callbacks/postmark/{connector id}. Postmark does not sign webhooks, so
// the callback URL is protected with HTTP Basic credentials Waymark
// derives for the connector (shown by "Check connection", pasted into
// Postmark's webhook settings) and compares in constant time.
package postmark

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
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
const TypeName = "postmark"

// DefaultBaseURL is Postmark's API.
const DefaultBaseURL = "https://api.postmarkapp.com"

// Paths of the API calls.
const (
	SendPath   = "/email"
	ServerPath = "/server"
)

// HeaderToken carries the server token.
const HeaderToken = "X-Postmark-Server-Token"

// WebhookUser is the Basic auth user name of the webhook credentials.
const WebhookUser = "waymark"

// Metadata keys (Postmark allows keys of at most 20 characters and values
// of at most 80).
const (
	MetaDeliveryID     = "waymark_delivery"
	MetaIdempotencyKey = "waymark_idem_key"
)

var streamRE = regexp.MustCompile(`^[a-z0-9-]{1,30}$`)

// Type is the postmark connector type.
var Type = connectors.Type{
	Name:    TypeName,
	Title:   "Postmark",
	Help:    "Sends email through Postmark's API and records deliveries, bounces, spam complaints and subscription changes from its webhooks (protected with HTTP Basic credentials Waymark generates).",
	Channel: connectors.ChannelEmail,
	Kinds:   []string{connectors.KindSendEmail},
	Fields: []nodes.Field{
		{Name: "server_token", Title: "Server API token", Type: nodes.String, Required: true, Secret: true, MaxLength: 128,
			Help: "The Postmark server's API token (Servers › your server › API Tokens). Changing it changes the webhook credentials."},
		{Name: "from", Title: "From", Type: nodes.String, Required: true, MaxLength: 320, Placeholder: "Acme <news@acme.example>",
			Help: "Sender: a confirmed Sender Signature or an address on a verified domain, optionally with a display name. A node's from_name overrides the name."},
		{Name: "reply_to", Title: "Reply-To", Type: nodes.String, MaxLength: 320, Help: "Where replies go, if not the From address."},
		{Name: "message_stream", Title: "Message stream", Type: nodes.String, Default: "outbound", MaxLength: 30,
			Help: "The stream to send through: outbound (transactional) or your broadcast stream's ID for marketing mail."},
		{Name: "base_url", Title: "API base URL", Type: nodes.String, Default: DefaultBaseURL, MaxLength: 256,
			Help: "Postmark's API (for tests and proxies). HTTPS on port 443 only, unless the operator allowlists the host."},
	},
	// The server token goes to the API.
	Destinations: []connectors.Destination{{Field: "base_url", Secrets: []string{"server_token"}}},
	RateLimit:    connectors.Rate{PerSecond: 50, Burst: 50},
	Example:      map[string]any{"server_token": "your-server-token", "from": "Acme <news@acme.example>", "message_stream": "outbound"},
	Check: func(cfg nodes.Config) []nodes.FieldError {
		errs := mailx.CheckAddress(cfg, "from", true)
		errs = append(errs, mailx.CheckAddress(cfg, "reply_to", false)...)
		if !streamRE.MatchString(cfg.String("message_stream")) {
			errs = append(errs, nodes.FieldError{Field: "message_stream", Message: "want a message stream ID: lowercase letters, digits and '-'"})
		}
		return errs
	},
	New: New,
}

// Connector sends through one Postmark server.
type Connector struct {
	id, token, stream, replyTo string
	from                       *mail.Address
	base                       *url.URL
	env                        connectors.Env
	client                     *http.Client
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
	return &Connector{id: s.ID, token: s.Config.String("server_token"), stream: s.Config.String("message_stream"), replyTo: s.Config.String("reply_to"),
		from: from, base: base, env: s.Env, client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig(""))}, nil
}

// WebhookPassword is the Basic auth password of a connector's webhook:
// derived from its server token and id, so it is stable, never stored,
// and changes when the token does.
func WebhookPassword(serverToken, connectorID string) string {
	m := hmac.New(sha256.New, []byte(serverToken))
	m.Write([]byte("waymark postmark webhook v1\x00" + connectorID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:32]
}

// Header is a custom message header.
type Header struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Email is the /email request body, as far as Waymark uses it.
type Email struct {
	From          string            `json:"From"`
	To            string            `json:"To"`
	ReplyTo       string            `json:"ReplyTo,omitempty"`
	Subject       string            `json:"Subject"`
	HTMLBody      string            `json:"HtmlBody,omitempty"`
	TextBody      string            `json:"TextBody,omitempty"`
	Headers       []Header          `json:"Headers,omitempty"`
	Metadata      map[string]string `json:"Metadata,omitempty"`
	MessageStream string            `json:"MessageStream"`
}

// Answer is Postmark's answer to /email (and its error body).
type Answer struct {
	To          string `json:"To"`
	SubmittedAt string `json:"SubmittedAt"`
	MessageID   string `json:"MessageID"`
	ErrorCode   int    `json:"ErrorCode"`
	Message     string `json:"Message"`
}

// Send posts one email.
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
	req := Email{From: from.String(), To: m.Email, ReplyTo: c.replyTo, Subject: m.Subject, HTMLBody: html, TextBody: text, MessageStream: c.stream}
	for _, h := range mailx.Headers(m) {
		req.Headers = append(req.Headers, Header{Name: h.Name, Value: h.Value})
	}
	if m.DeliveryID != "" || m.IdempotencyKey != "" {
		req.Metadata = map[string]string{}
		if m.DeliveryID != "" {
			req.Metadata[MetaDeliveryID] = clip80(m.DeliveryID)
		}
		if m.IdempotencyKey != "" {
			req.Metadata[MetaIdempotencyKey] = clip80(m.IdempotencyKey)
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
	var ans Answer
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status == http.StatusOK && ans.ErrorCode == 0 {
		if ans.MessageID == "" {
			return connectors.Result{}, connectors.UnknownError("Postmark accepted the request but its answer has no MessageID", nil)
		}
		return connectors.Result{ProviderID: ans.MessageID, Status: delivery.Sent, Detail: "Postmark: " + mailx.Clip(ans.Message, 100)}, nil
	}
	return connectors.Result{}, c.classify(ctx, resp, ans, m.Email)
}

func clip80(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
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
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderToken, c.token)
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return nil, httpx.TransportError(ctx, err, wrote)
	}
	return resp, nil
}

// Postmark API error codes with a meaning here
// (https://postmarkapp.com/developer/api/overview#error-codes).
const (
	codeBadToken          = 10
	codeInvalidEmail      = 300
	codeSenderNotFound    = 400
	codeSenderUnconfirmed = 401
	codeNotAllowed        = 405
	codeInactiveRecipient = 406
	codeAccountPending    = 412
	codeStreamNotFound    = 1235
)

func (c *Connector) classify(ctx context.Context, resp *httpx.Response, ans Answer, rcpt string) error {
	reason := fmt.Sprintf("Postmark %d", resp.Status)
	if ans.ErrorCode != 0 {
		reason = fmt.Sprintf("Postmark error %d: %s", ans.ErrorCode, mailx.Clip(ans.Message, 200))
	} else if len(resp.Body) > 0 {
		reason += ": " + httpx.Snippet(resp.Body, 200)
	}
	switch {
	case resp.Status == http.StatusTooManyRequests:
		return connectors.TransientError(reason, max(httpx.RetryAfter(resp.Header, c.env.Clock()), time.Second), nil)
	case ans.ErrorCode == codeInactiveRecipient:
		// Postmark deactivated the address (a hard bounce, a spam complaint
		// or a manual suppression there): it refuses every message to it.
		if c.env.Suppress != nil {
			if err := c.env.Suppress(ctx, delivery.SuppressEmail, rcpt, delivery.ReasonHardBounce); err != nil {
				c.env.Log().Error("recording an inactive Postmark recipient", "error", err.Error())
			}
		}
		return connectors.SuppressedError(reason + " (inactive at Postmark; added to the suppression list)")
	case resp.Status == http.StatusUnauthorized || ans.ErrorCode == codeBadToken:
		return connectors.TransientError(reason+" (check the connector's server token)", 5*time.Minute, nil)
	case ans.ErrorCode == codeSenderNotFound || ans.ErrorCode == codeSenderUnconfirmed || ans.ErrorCode == codeNotAllowed ||
		ans.ErrorCode == codeAccountPending || ans.ErrorCode == codeStreamNotFound:
		// The account or the connector's setup, not this recipient.
		return connectors.TransientError(reason+" (check the Postmark account and the connector's sender and stream)", 5*time.Minute, nil)
	case resp.Status == http.StatusGatewayTimeout:
		return connectors.UnknownError(reason, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, httpx.RetryAfter(resp.Header, c.env.Clock()), nil)
	}
	// 300 (invalid email request) and every other 4xx / 422.
	return connectors.PermanentError(reason, nil)
}

// Test reads the server (GET /server) or sends a test email; either way it
// shows the webhook URL with its credentials.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	hook := c.webhookNote()
	if to != "" {
		return mailx.SendTest(ctx, c.Send, "Postmark", "Postmark", to, hook)
	}
	resp, err := c.do(ctx, http.MethodGet, ServerPath, nil)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	if resp.Status != http.StatusOK {
		var ans Answer
		_ = json.Unmarshal(resp.Body, &ans)
		return connectors.TestResult{Detail: connectors.Describe(c.classify(ctx, resp, ans, ""))}
	}
	var srv struct {
		ID   int64  `json:"ID"`
		Name string `json:"Name"`
	}
	_ = json.Unmarshal(resp.Body, &srv)
	return connectors.TestResult{OK: true, Detail: fmt.Sprintf("Connected: Postmark server %q (ID %d). %s", srv.Name, srv.ID, hook)}
}

// WebhookURL is the URL to paste into Postmark, credentials included, or
// "" when Waymark's public URL is not set.
func (c *Connector) WebhookURL() string {
	u := mailx.CallbackURL(c.env, TypeName, c.id)
	if u == "" {
		return ""
	}
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	pu.User = url.UserPassword(WebhookUser, WebhookPassword(c.token, c.id))
	return pu.String()
}

func (c *Connector) webhookNote() string {
	u := c.WebhookURL()
	if u == "" {
		return "Webhooks: set Waymark's public URL (WAYMARK_BASE_URL) to receive Postmark events."
	}
	return "Webhooks: add " + u + " in Postmark (or its URL with user " + WebhookUser + " and password " + WebhookPassword(c.token, c.id) +
		" as Basic auth credentials) for Delivery, Bounce, Spam Complaint and Subscription Change on stream " + c.stream + "."
}

// IdempotentSends reports whether re-sending after a crash is safe:
// /email takes no idempotency key, so a second attempt is a second email
// (the message carries the step's key in Metadata and a header, so a
// duplicate is recognisable).
func (c *Connector) IdempotentSends() bool { return false }

// authorized checks the Basic credentials in constant time.
func (c *Connector) authorized(header string) bool {
	raw, ok := strings.CutPrefix(header, "Basic ")
	if !ok {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	user, pass, _ := strings.Cut(string(dec), ":")
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(WebhookUser))
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(WebhookPassword(c.token, c.id)))
	return okUser&okPass == 1
}

// Event is a Postmark webhook payload, as far as Waymark reads it.
type Event struct {
	RecordType        string            `json:"RecordType"`
	MessageID         string            `json:"MessageID"`
	Recipient         string            `json:"Recipient"`
	Email             string            `json:"Email"`
	Type              string            `json:"Type"`
	Name              string            `json:"Name"`
	Description       string            `json:"Description"`
	Details           string            `json:"Details"`
	Inactive          bool              `json:"Inactive"`
	SuppressSending   bool              `json:"SuppressSending"`
	SuppressionReason string            `json:"SuppressionReason"`
	Metadata          map[string]string `json:"Metadata"`
}

// Bounce types that mean the address does not exist.
var hardBounces = map[string]bool{"HardBounce": true, "BadEmailAddress": true}

// Bounce types that are not a failure of the message (a delay, an
// auto-reply, a challenge…).
var notFailures = map[string]bool{"Transient": true, "AutoResponder": true, "AddressChange": true, "Subscribe": true,
	"ChallengeVerification": true, "OpenRelayTest": true, "InboundError": true}

// HandleCallback checks the Basic credentials and turns the event into a
// status: Delivery delivers; a Bounce of type HardBounce or
// BadEmailAddress (or one after which Postmark deactivated the address)
// fails the delivery and suppresses the address (hard_bounce), other
// bounces only fail it (a Transient delay, an auto-reply… change nothing);
// a SpamComplaint suppresses (complaint); a SubscriptionChange that
// suppresses sending suppresses here too (hard_bounce, complaint, or
// unsubscribed for a manual suppression).
func (c *Connector) HandleCallback(_ context.Context, req connectors.CallbackRequest) ([]connectors.StatusUpdate, error) {
	if !c.authorized(req.Header["authorization"]) {
		return nil, connectors.ErrBadSignature
	}
	var e Event
	if err := json.Unmarshal(req.Body, &e); err != nil {
		c.env.Log().Warn("Postmark callback: authenticated body is not an event", "connector_id", c.id, "error", err.Error())
		return nil, nil
	}
	if u, ok := EventUpdate(e); ok {
		return []connectors.StatusUpdate{u}, nil
	}
	return nil, nil
}

// EventUpdate says what one webhook event means.
func EventUpdate(e Event) (connectors.StatusUpdate, bool) {
	u := connectors.StatusUpdate{ProviderID: e.MessageID}
	switch e.RecordType {
	case "Delivery":
		u.Status = delivery.Delivered
	case "Bounce":
		if e.Type == "SpamComplaint" {
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonComplaint)
			break
		}
		if notFailures[e.Type] {
			return u, false
		}
		u.Status = delivery.Failed
		detail := mailx.Clip(strings.TrimSpace(e.Name+": "+e.Details), 300)
		if hardBounces[e.Type] || e.Inactive {
			u.Error = "Postmark: hard bounce (" + detail + ")"
			u.Suppress = mailx.Suppress(e.Email, delivery.ReasonHardBounce)
		} else {
			u.Error = "Postmark: soft bounce (" + detail + ")"
		}
	case "SpamComplaint":
		u.Suppress = mailx.Suppress(e.Email, delivery.ReasonComplaint)
	case "SubscriptionChange":
		if !e.SuppressSending {
			return u, false // reactivated: Waymark's list is not changed
		}
		reason := delivery.ReasonUnsubscribed
		switch e.SuppressionReason {
		case "HardBounce":
			reason = delivery.ReasonHardBounce
		case "SpamComplaint":
			reason = delivery.ReasonComplaint
		}
		u.Suppress = mailx.Suppress(e.Recipient, reason)
	default:
		return u, false
	}
	if u.ProviderID == "" && u.Suppress == nil {
		return u, false
	}
	return u, true
}
