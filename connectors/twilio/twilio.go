// Package twilio sends SMS through Twilio's Messages API, or any provider
// that speaks it (the base URL is configurable): a form-encoded POST to
// {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP
// Basic auth. Delivery receipts come back as status callbacks to
// /callbacks/twilio/{connector id}, verified with X-Twilio-Signature.
package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// DefaultBaseURL is Twilio's API.
const DefaultBaseURL = "https://api.twilio.com"

var sidRE = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// Type is the twilio connector type.
var Type = connectors.Type{
	Name:    "twilio",
	Title:   "Twilio SMS",
	Help:    "Sends text messages through Twilio's Messages API (or a Twilio-compatible provider) and records delivery receipts from its status callbacks.",
	Channel: connectors.ChannelSMS,
	Kinds:   []string{connectors.KindSendSMS},
	Fields: []nodes.Field{
		{Name: "account_sid", Title: "Account SID", Type: nodes.String, Required: true, MaxLength: 64, Placeholder: "AC…",
			Help: "Your Twilio Account SID (starts with AC), from the Twilio console."},
		{Name: "auth_token", Title: "Auth token", Type: nodes.String, Required: true, Secret: true, MaxLength: 256,
			Help: "The account's auth token. Also verifies status callbacks."},
		{Name: "from", Title: "From number", Type: nodes.String, MaxLength: 32, Placeholder: "+15017122661",
			Help: "Sender: an E.164 number or alphanumeric sender ID on the account. Set this or a messaging service SID."},
		{Name: "messaging_service_sid", Title: "Messaging service SID", Type: nodes.String, MaxLength: 64, Placeholder: "MG…",
			Help: "Send through a Messaging Service (starts with MG) instead of a single number; wins over From."},
		{Name: "base_url", Title: "API base URL", Type: nodes.String, Default: DefaultBaseURL, MaxLength: 256,
			Help: "Twilio's API, or a Twilio-compatible provider's. HTTPS on port 443 only, unless the operator allowlists the host."},
		{Name: "status_callbacks", Title: "Delivery receipts", Type: nodes.Boolean, Default: true,
			Help: "Ask Twilio to report delivery status to Waymark (needs WAYMARK_BASE_URL reachable from Twilio)."},
	},
	// The auth token goes to the API (HTTP Basic).
	Destinations: []connectors.Destination{{Field: "base_url", Secrets: []string{"auth_token"}}},
	RateLimit:    connectors.Rate{PerSecond: 1, Burst: 1}, // a US long code's default throughput
	Example:      map[string]any{"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "your-auth-token", "from": "+15017122661"},
	Check: func(cfg nodes.Config) []nodes.FieldError {
		var errs []nodes.FieldError
		if !sidRE.MatchString(cfg.String("account_sid")) || !strings.HasPrefix(cfg.String("account_sid"), "AC") {
			errs = append(errs, nodes.FieldError{Field: "account_sid", Message: "want AC followed by 32 hex digits"})
		}
		if ms := cfg.String("messaging_service_sid"); ms != "" && (!sidRE.MatchString(ms) || !strings.HasPrefix(ms, "MG")) {
			errs = append(errs, nodes.FieldError{Field: "messaging_service_sid", Message: "want MG followed by 32 hex digits"})
		}
		if cfg.String("from") == "" && cfg.String("messaging_service_sid") == "" {
			errs = append(errs, nodes.FieldError{Field: "from", Message: "set a From number or a messaging service SID"})
		}
		return errs
	},
	New: New,
}

// Connector sends through one Twilio account.
type Connector struct {
	id, sid, token, from, service string
	base                          *url.URL
	callbacks                     bool
	env                           connectors.Env
	client                        *http.Client
}

// New builds a connector from a validated config.
func New(s connectors.Setup) (connectors.Instance, error) {
	base, err := s.Env.Net.CheckURL(s.Config.String("base_url"), netguard.HTTPS)
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "base_url", Message: err.Error()}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	return &Connector{
		id: s.ID, sid: s.Config.String("account_sid"), token: s.Config.String("auth_token"),
		from: s.Config.String("from"), service: s.Config.String("messaging_service_sid"),
		base: base, callbacks: s.Config.Bool("status_callbacks"), env: s.Env,
		client: s.Env.Net.HTTPClient(netguard.HTTPS, s.Env.Timeout(), s.Env.TLSConfig("")),
	}, nil
}

// apiError is Twilio's error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// CallbackPath is where Twilio reports a connector's delivery status.
func CallbackPath(connectorID string) string { return "/callbacks/twilio/" + connectorID }

// Send posts one message.
func (c *Connector) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	if m.Phone == "" {
		return connectors.Result{}, connectors.PermanentError("the profile has no phone number", nil)
	}
	body := m.Text
	if body == "" {
		return connectors.Result{}, connectors.PermanentError("the message is empty", nil)
	}
	form := url.Values{"To": {m.Phone}, "Body": {body}}
	if c.service != "" {
		form.Set("MessagingServiceSid", c.service)
	} else {
		form.Set("From", c.from)
	}
	if c.callbacks && c.env.PublicURL != "" {
		form.Set("StatusCallback", c.env.PublicURL+CallbackPath(c.id))
	}
	resp, err := c.post(ctx, "/2010-04-01/Accounts/"+url.PathEscape(c.sid)+"/Messages.json", form)
	if err != nil {
		return connectors.Result{}, err
	}
	if resp.Status == http.StatusCreated || resp.Status == http.StatusOK {
		var msg struct {
			SID    string `json:"sid"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(resp.Body, &msg); err != nil || msg.SID == "" {
			return connectors.Result{}, connectors.UnknownError("Twilio accepted the request but its answer has no message SID", err)
		}
		return connectors.Result{ProviderID: msg.SID, Status: "sent", Detail: "Twilio: " + msg.Status}, nil
	}
	return connectors.Result{}, c.classify(ctx, resp, m.Phone)
}

func (c *Connector) post(ctx context.Context, path string, form url.Values) (*httpx.Response, error) {
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, connectors.PermanentError("building the request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.sid, c.token)
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return nil, httpx.TransportError(ctx, err, wrote)
	}
	return resp, nil
}

// Twilio error codes with a fixed meaning here.
const (
	codeInvalidTo      = 21211 // 'To' number is not a valid phone number
	codeUnsubscribed   = 21610 // the recipient replied STOP
	codeCannotRoute    = 21612 // 'To' number cannot be reached from this sender
	codeNotMobile      = 21614 // 'To' number is not a valid mobile number
	codeTooManyRequest = 20429
	codeAuth           = 20003
)

func (c *Connector) classify(ctx context.Context, resp *httpx.Response, phone string) error {
	var e apiError
	_ = json.Unmarshal(resp.Body, &e)
	reason := fmt.Sprintf("Twilio %d", resp.Status)
	if e.Code != 0 {
		reason = fmt.Sprintf("Twilio error %d: %s", e.Code, httpx.Snippet([]byte(e.Message), 200))
	} else if len(resp.Body) > 0 {
		reason += ": " + httpx.Snippet(resp.Body, 200)
	}
	switch {
	case resp.Status == http.StatusTooManyRequests || e.Code == codeTooManyRequest:
		wait := httpx.RetryAfter(resp.Header, c.env.Clock())
		if wait == 0 {
			wait = time.Second
		}
		return connectors.TransientError(reason, wait, nil)
	case e.Code == codeUnsubscribed:
		if c.env.Suppress != nil {
			if err := c.env.Suppress(ctx, delivery.SuppressSMS, phone, delivery.ReasonStop); err != nil {
				c.env.Log().Error("recording SMS opt-out", "error", err.Error())
			}
		}
		return connectors.SuppressedError(reason + " (the recipient opted out; added to the suppression list)")
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden || e.Code == codeAuth:
		// The account, not the recipient: keep the message for when the
		// credentials are fixed.
		return connectors.TransientError(reason+" (check the connector's credentials)", 5*time.Minute, nil)
	case resp.Status == http.StatusGatewayTimeout:
		return connectors.UnknownError(reason, nil)
	case resp.Status >= 500:
		return connectors.TransientError(reason, httpx.RetryAfter(resp.Header, c.env.Clock()), nil)
	}
	// 21211, 21612, 21614 and every other 4xx: this message cannot go.
	return connectors.PermanentError(reason, nil)
}

// Test checks the account (GET Accounts/{sid}.json) or sends a test SMS.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	if to != "" {
		res, err := c.Send(ctx, connectors.Message{DeliveryID: "test", Kind: connectors.KindSendSMS, Test: true, Phone: to,
			Text: "Waymark test message: your Twilio connector works."})
		if err != nil {
			return connectors.TestResult{Detail: connectors.Describe(err)}
		}
		return connectors.TestResult{OK: true, Detail: fmt.Sprintf("Sent: message %s (%s)", res.ProviderID, res.Detail)}
	}
	u := *c.base
	u.Path += "/2010-04-01/Accounts/" + url.PathEscape(c.sid) + ".json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Accept", "application/json")
	resp, wrote, err := httpx.Do(c.client, req)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(httpx.TransportError(ctx, err, wrote))}
	}
	if resp.Status != http.StatusOK {
		return connectors.TestResult{Detail: connectors.Describe(c.classify(ctx, resp, ""))}
	}
	var acct struct {
		FriendlyName string `json:"friendly_name"`
		Status       string `json:"status"`
	}
	_ = json.Unmarshal(resp.Body, &acct)
	if acct.Status != "" && acct.Status != "active" {
		return connectors.TestResult{Detail: fmt.Sprintf("Account %q is %s", acct.FriendlyName, acct.Status)}
	}
	return connectors.TestResult{OK: true, Detail: fmt.Sprintf("Connected: account %q is %s", acct.FriendlyName, acct.Status)}
}

// Signature computes X-Twilio-Signature for a POST to fullURL with form:
// base64(HMAC-SHA1(auth token, URL + each parameter name and value, sorted by name)).
func Signature(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// HandleCallback verifies a status callback and says what it means for
// the delivery: delivered, or failed with Twilio's error code. Interim
// statuses (queued, sent…) change nothing.
func (c *Connector) HandleCallback(_ context.Context, req connectors.CallbackRequest) ([]connectors.StatusUpdate, error) {
	got := req.Header["x-twilio-signature"]
	want := Signature(c.token, req.URL, req.Form)
	if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return nil, connectors.ErrBadSignature
	}
	sid := req.Form.Get("MessageSid")
	if sid == "" {
		sid = req.Form.Get("SmsSid")
	}
	status := req.Form.Get("MessageStatus")
	if status == "" {
		status = req.Form.Get("SmsStatus")
	}
	u := connectors.StatusUpdate{ProviderID: sid}
	switch status {
	case "delivered":
		u.Status = delivery.Delivered
	case "failed", "undelivered":
		u.Status = delivery.Failed
		code := req.Form.Get("ErrorCode")
		u.Error = "Twilio: " + status
		if code != "" {
			u.Error += " (error " + code + ")"
		}
		if n, _ := strconv.Atoi(code); n == codeUnsubscribed && req.Form.Get("To") != "" {
			u.Suppress = &connectors.Suppression{Channel: delivery.SuppressSMS, Address: req.Form.Get("To"), Reason: delivery.ReasonStop}
		}
	default:
		return nil, nil
	}
	return []connectors.StatusUpdate{u}, nil
}

// IdempotentSends reports whether re-sending after a crash is safe: the Messages API takes no idempotency key: a second attempt is a second SMS.
func (c *Connector) IdempotentSends() bool { return false }
