// Package ses sends email through Amazon SES's v2 API (SendEmail, simple
// content) signed with AWS Signature Version 4, and takes SES's bounce,
// complaint and delivery events through Amazon SNS notifications posted to
// /callbacks/ses/{connector id}: each SNS message's signature is verified
// with the certificate SNS names, fetched only from an
// https://sns.<region>.amazonaws.com/….pem URL, and only the topics the
// connector lists are accepted (anyone can subscribe a URL to a topic of
// their own; the signature only proves that SNS sent it).
package ses

import (
	"bytes"
	"context"
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
	"github.com/waymarkhq/waymark/connectors/internal/awssig"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/internal/mailx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// TypeName is the connector type's name (and its callback path segment).
const TypeName = "ses"

// SendPath is SES v2's SendEmail operation.
const SendPath = "/v2/email/outbound-emails"

// AccountPath is SES v2's GetAccount operation ("Check connection").
const AccountPath = "/v2/email/account"

// MaxTopics bounds the SNS topics a connector accepts.
const MaxTopics = 10

var (
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	keyIDRE    = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	confSetRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	topicARNRE = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	tagRE      = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

// Type is the ses connector type.
var Type = connectors.Type{
	Name:    TypeName,
	Title:   "Amazon SES",
	Help:    "Sends email through Amazon SES's API (v2 SendEmail, signed with AWS Signature Version 4) and records bounces, complaints and deliveries from SES events delivered by Amazon SNS.",
	Channel: connectors.ChannelEmail,
	Kinds:   []string{connectors.KindSendEmail},
	Fields: []nodes.Field{
		{Name: "region", Title: "Region", Type: nodes.String, Required: true, MaxLength: 32, Placeholder: "us-east-1",
			Help: "The AWS region of your SES account (email.<region>.amazonaws.com)."},
		{Name: "access_key_id", Title: "Access key ID", Type: nodes.String, Required: true, MaxLength: 128, Placeholder: "AKIA…",
			Help: "An IAM user's access key with permission ses:SendEmail (and ses:GetAccount for Check connection)."},
		{Name: "secret_access_key", Title: "Secret access key", Type: nodes.String, Required: true, Secret: true, MaxLength: 256,
			Help: "The access key's secret. It signs requests and never leaves Waymark."},
		{Name: "from", Title: "From", Type: nodes.String, Required: true, MaxLength: 320, Placeholder: "Acme <news@acme.example>",
			Help: "Sender: an address or domain verified in SES, optionally with a display name. A node's from_name overrides the name."},
		{Name: "reply_to", Title: "Reply-To", Type: nodes.String, MaxLength: 320, Help: "Where replies go, if not the From address."},
		{Name: "configuration_set", Title: "Configuration set", Type: nodes.String, MaxLength: 64,
			Help: "SES configuration set to send with (its event destination publishes bounces, complaints and deliveries to SNS)."},
		{Name: "sns_topic_arns", Title: "SNS topic ARNs", Type: nodes.Text, MaxLength: 4096, Placeholder: "arn:aws:sns:us-east-1:123456789012:ses-events",
			Help: "The SNS topics whose notifications this connector accepts at its callback URL, one per line (at most 10). Notifications from other topics are refused, even though SNS signs them."},
		{Name: "endpoint", Title: "API endpoint", Type: nodes.String, MaxLength: 256, Placeholder: "https://email.us-east-1.amazonaws.com",
			Help: "Leave empty for SES's regional endpoint. Set it for a VPC endpoint or proxy; HTTPS on port 443 only, unless the operator allowlists the host."},
	},
	// Requests signed with the key go to the endpoint.
	Destinations: []connectors.Destination{{Field: "endpoint", Secrets: []string{"secret_access_key"}}},
	RateLimit:    connectors.Rate{PerSecond: 14, Burst: 14}, // SES's usual production send rate
	Example: map[string]any{"region": "us-east-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"from": "Acme <news@acme.example>", "configuration_set": "waymark", "sns_topic_arns": "arn:aws:sns:us-east-1:123456789012:ses-events"},
	Check: check,
	New:   New,
}

func check(cfg nodes.Config) []nodes.FieldError {
	var errs []nodes.FieldError
	if !regionRE.MatchString(cfg.String("region")) {
		errs = append(errs, nodes.FieldError{Field: "region", Message: "want an AWS region such as us-east-1"})
	}
	if !keyIDRE.MatchString(cfg.String("access_key_id")) {
		errs = append(errs, nodes.FieldError{Field: "access_key_id", Message: "want an access key ID: 16 or more capital letters and digits (AKIA…)"})
	}
	errs = append(errs, mailx.CheckAddress(cfg, "from", true)...)
	errs = append(errs, mailx.CheckAddress(cfg, "reply_to", false)...)
	if cs := cfg.String("configuration_set"); cs != "" && !confSetRE.MatchString(cs) {
		errs = append(errs, nodes.FieldError{Field: "configuration_set", Message: "want 1-64 letters, digits, '_' or '-'"})
	}
	if _, err := topics(cfg.String("sns_topic_arns")); err != nil {
		errs = append(errs, nodes.FieldError{Field: "sns_topic_arns", Message: err.Error()})
	}
	return errs
}

// topics parses the topic list: ARNs separated by lines, commas or spaces.
func topics(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !topicARNRE.MatchString(t) {
			return nil, fmt.Errorf("%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", mailx.Clip(t, 80))
		}
		out[t] = true
	}
	if len(out) > MaxTopics {
		return nil, fmt.Errorf("at most %d topics", MaxTopics)
	}
	return out, nil
}

// Connector sends through one SES account.
type Connector struct {
	id       string
	endpoint *url.URL
	creds    awssig.Credentials
	scope    awssig.Scope
	from     *mail.Address
	replyTo  string
	confSet  string
	topics   map[string]bool
	env      connectors.Env
	client   *http.Client
}

// New builds a connector from a validated config.
func New(s connectors.Setup) (connectors.Instance, error) {
	cfg := s.Config
	region := cfg.String("region")
	raw := cfg.String("endpoint")
	if raw == "" {
		raw = "https://email." + region + ".amazonaws.com"
	}
	ep, err := s.Env.Net.CheckURL(raw, netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "endpoint", Message: err.Error()}
	}
	ep.Path = strings.TrimRight(ep.Path, "/")
	from, err := mail.ParseAddress(cfg.String("from"))
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "from", Message: "want an email address"}
	}
	tops, err := topics(cfg.String("sns_topic_arns"))
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "sns_topic_arns", Message: err.Error()}
	}
	return &Connector{
		id: s.ID, endpoint: ep, from: from, replyTo: cfg.String("reply_to"), confSet: cfg.String("configuration_set"), topics: tops,
		creds: awssig.Credentials{AccessKeyID: cfg.String("access_key_id"), SecretAccessKey: cfg.String("secret_access_key")},
		scope: awssig.Scope{Region: region, Service: "ses"}, env: s.Env,
		client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig("")),
	}, nil
}

// SendEmailRequest is SES v2's SendEmail body, as far as Waymark uses it.
type SendEmailRequest struct {
	FromEmailAddress     string      `json:"FromEmailAddress"`
	Destination          Destination `json:"Destination"`
	ReplyToAddresses     []string    `json:"ReplyToAddresses,omitempty"`
	Content              Content     `json:"Content"`
	EmailTags            []Tag       `json:"EmailTags,omitempty"`
	ConfigurationSetName string      `json:"ConfigurationSetName,omitempty"`
}

// Destination lists the recipients.
type Destination struct {
	ToAddresses []string `json:"ToAddresses"`
}

// Content holds the simple (SES-built MIME) message.
type Content struct {
	Simple *Simple `json:"Simple"`
}

// Simple is a subject, a body and extra headers.
type Simple struct {
	Subject Part          `json:"Subject"`
	Body    Body          `json:"Body"`
	Headers []MessageHead `json:"Headers,omitempty"`
}

// Body has a text and/or an HTML part.
type Body struct {
	Text *Part `json:"Text,omitempty"`
	HTML *Part `json:"Html,omitempty"`
}

// Part is content with its charset.
type Part struct {
	Data    string `json:"Data"`
	Charset string `json:"Charset,omitempty"`
}

// MessageHead is one header.
type MessageHead struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Tag is an EmailTags entry (names and values: letters, digits, _ and -).
type Tag struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// TagValue makes s a valid tag value.
func TagValue(s string) string {
	s = tagRE.ReplaceAllString(s, "_")
	if len(s) > 256 {
		s = s[:256]
	}
	return s
}

// Send calls SendEmail.
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
	simple := &Simple{Subject: Part{Data: m.Subject, Charset: "UTF-8"}}
	if text != "" {
		simple.Body.Text = &Part{Data: text, Charset: "UTF-8"}
	}
	if html != "" {
		simple.Body.HTML = &Part{Data: html, Charset: "UTF-8"}
	}
	for _, h := range mailx.Headers(m) {
		simple.Headers = append(simple.Headers, MessageHead{Name: h.Name, Value: h.Value})
	}
	req := SendEmailRequest{FromEmailAddress: from.String(), Destination: Destination{ToAddresses: []string{m.Email}},
		Content: Content{Simple: simple}, ConfigurationSetName: c.confSet}
	if c.replyTo != "" {
		req.ReplyToAddresses = []string{c.replyTo}
	}
	if m.DeliveryID != "" {
		req.EmailTags = append(req.EmailTags, Tag{Name: "waymark_delivery_id", Value: TagValue(m.DeliveryID)})
	}
	if m.IdempotencyKey != "" {
		req.EmailTags = append(req.EmailTags, Tag{Name: "waymark_idempotency_key", Value: TagValue(m.IdempotencyKey)})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return connectors.Result{}, connectors.PermanentError("encoding the request", err)
	}
	resp, err := c.do(ctx, http.MethodPost, SendPath, body)
	if err != nil {
		return connectors.Result{}, err
	}
	if resp.Status != http.StatusOK {
		return connectors.Result{}, c.classify(resp)
	}
	var out struct {
		MessageID string `json:"MessageId"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.MessageID == "" {
		return connectors.Result{}, connectors.UnknownError("SES accepted the request but its answer has no MessageId", err)
	}
	return connectors.Result{ProviderID: out.MessageID, Status: delivery.Sent, Detail: "SES: accepted"}, nil
}

// do sends a signed request.
func (c *Connector) do(ctx context.Context, method, path string, body []byte) (*httpx.Response, error) {
	u := *c.endpoint
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
	if err := awssig.Sign(req, body, c.creds, c.scope, c.env.Clock()); err != nil {
		return nil, connectors.PermanentError("signing the request", err)
	}
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return nil, httpx.TransportError(ctx, err, wrote)
	}
	return resp, nil
}

// ErrorType is an SES error's type: the X-Amzn-ErrorType header (up to
// its first ':'), else the body's __type or code.
func ErrorType(resp *httpx.Response) (typ, message string) {
	var e struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(resp.Body, &e)
	typ = resp.Header.Get("X-Amzn-ErrorType")
	if typ == "" {
		typ = e.Type
	}
	if typ == "" {
		typ = e.Code
	}
	typ, _, _ = strings.Cut(typ, ":")
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	message = e.Message
	if message == "" {
		message = e.Msg
	}
	return typ, message
}

// classify says what an SES error means for the message.
func (c *Connector) classify(resp *httpx.Response) error {
	typ, msg := ErrorType(resp)
	reason := fmt.Sprintf("SES %d", resp.Status)
	if typ != "" {
		reason += " " + typ
	}
	if msg != "" {
		reason += ": " + mailx.Clip(msg, 200)
	} else if len(resp.Body) > 0 && typ == "" {
		reason += ": " + httpx.Snippet(resp.Body, 200)
	}
	wait := httpx.RetryAfter(resp.Header, c.env.Clock())
	switch {
	case resp.Status == http.StatusTooManyRequests || typ == "TooManyRequestsException" || typ == "ThrottlingException" || typ == "Throttling":
		return connectors.TransientError(reason, max(wait, time.Second), nil)
	case typ == "LimitExceededException":
		if strings.Contains(strings.ToLower(msg), "daily") {
			return connectors.TransientError(reason+" (the account's daily quota)", max(wait, time.Hour), nil)
		}
		return connectors.TransientError(reason, max(wait, time.Second), nil)
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden ||
		strings.Contains(typ, "Signature") || typ == "UnrecognizedClientException" || typ == "AccessDeniedException" || typ == "ExpiredTokenException":
		return connectors.TransientError(reason+" (check the connector's credentials)", 5*time.Minute, nil)
	case typ == "AccountSuspendedException" || typ == "SendingPausedException" || typ == "MailFromDomainNotVerifiedException" || typ == "NotFoundException":
		// The account or the connector's setup, not this recipient: keep
		// the message for when it is fixed.
		return connectors.TransientError(reason+" (check the SES account and the connector's setup)", 5*time.Minute, nil)
	case resp.Status == http.StatusGatewayTimeout:
		return connectors.UnknownError(reason, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, wait, nil)
	}
	// MessageRejected, BadRequestException and every other 4xx.
	return connectors.PermanentError(reason, nil)
}

// Test calls GetAccount, or sends a test email; either way it says where
// SNS should deliver SES's events.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	hook := c.webhookNote()
	if to != "" {
		return mailx.SendTest(ctx, c.Send, "Amazon SES", "SES", to, hook)
	}
	resp, err := c.do(ctx, http.MethodGet, AccountPath, nil)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	if resp.Status != http.StatusOK {
		return connectors.TestResult{Detail: connectors.Describe(c.classify(resp))}
	}
	var acct struct {
		SendingEnabled          bool   `json:"SendingEnabled"`
		ProductionAccessEnabled bool   `json:"ProductionAccessEnabled"`
		EnforcementStatus       string `json:"EnforcementStatus"`
		SendQuota               struct {
			Max24HourSend   float64 `json:"Max24HourSend"`
			MaxSendRate     float64 `json:"MaxSendRate"`
			SentLast24Hours float64 `json:"SentLast24Hours"`
		} `json:"SendQuota"`
	}
	_ = json.Unmarshal(resp.Body, &acct)
	if !acct.SendingEnabled {
		return connectors.TestResult{Detail: fmt.Sprintf("Connected, but sending is disabled for this SES account (enforcement status %s)", acct.EnforcementStatus)}
	}
	mode := "production access"
	if !acct.ProductionAccessEnabled {
		mode = "sandbox: only verified recipients"
	}
	return connectors.TestResult{OK: true, Detail: fmt.Sprintf("Connected: sending enabled (%s), %g messages per second, %g of %g sent in the last 24 hours. %s",
		mode, acct.SendQuota.MaxSendRate, acct.SendQuota.SentLast24Hours, acct.SendQuota.Max24HourSend, hook)}
}

func (c *Connector) webhookNote() string {
	u := mailx.CallbackURL(c.env, TypeName, c.id)
	if u == "" {
		return "Events: set Waymark's public URL (WAYMARK_BASE_URL) to receive SES events."
	}
	note := "Events: subscribe " + u + " (protocol HTTPS) to your SNS topic"
	if len(c.topics) == 0 {
		return note + ", and list the topic's ARN in this connector."
	}
	return note + "."
}

// IdempotentSends reports whether re-sending after a crash is safe:
// SendEmail takes no idempotency token, so a second attempt is a second
// email (the message carries the step's key in X-Waymark-Idempotency-Key
// and the waymark_idempotency_key tag, so a duplicate is recognisable).
func (c *Connector) IdempotentSends() bool { return false }
