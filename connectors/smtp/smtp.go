// Package smtp sends email over SMTP with github.com/wneessen/go-mail:
// STARTTLS, implicit TLS or (for local development) plain connections,
// SMTP AUTH, multipart text+HTML, a Message-ID on the sender's domain
// derived from the delivery id, RFC 8058 one-click List-Unsubscribe on
// marketing mail, and optional DKIM signing.
//
// Failures are classified by where they happen and what the server said:
// 4xx replies are transient and 5xx permanent; a connection lost after the
// message's final "." was sent (before the server's answer) is unknown —
// the server may have queued it — and is not re-sent blindly. Losing the
// connection while the body is still being written is transient: without
// the final "." the server discards the message.
package smtp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
)

// TLS modes.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
	TLSNone     = "none"
)

// Type is the smtp connector type.
var Type = connectors.Type{
	Name:    "smtp",
	Title:   "SMTP email",
	Help:    "Sends email through any SMTP server or provider relay (Amazon SES, Postmark, Mailgun, SendGrid, your own MTA).",
	Channel: connectors.ChannelEmail,
	Kinds:   []string{connectors.KindSendEmail},
	Fields: []nodes.Field{
		{Name: "host", Title: "Host", Type: nodes.String, Required: true, MaxLength: 253, Placeholder: "smtp.example.com",
			Help: "The SMTP server's host name. Internal addresses are refused unless the operator allowlists the host."},
		{Name: "port", Title: "Port", Type: nodes.Integer, Default: int64(587), Min: nodes.Bound(1), Max: nodes.Bound(65535),
			Help: "587 (submission, STARTTLS), 465 (implicit TLS), 25 or 2525. Other ports need the host allowlisted."},
		{Name: "tls", Title: "TLS", Type: nodes.Enum, Enum: []string{TLSStartTLS, TLSImplicit, TLSNone}, Default: TLSStartTLS,
			Help: "starttls: upgrade the connection, refusing servers without STARTTLS. implicit: TLS from the first byte (port 465). none: plain text, for a local development server only."},
		{Name: "username", Title: "Username", Type: nodes.String, MaxLength: 256, Help: "SMTP AUTH user name; empty for no authentication."},
		{Name: "password", Title: "Password", Type: nodes.String, Secret: true, MaxLength: 1024, Help: "SMTP AUTH password or API key."},
		{Name: "auth_mechanism", Title: "Auth mechanism", Type: nodes.Enum, Enum: []string{"plain", "login", "cram-md5"}, Default: "plain",
			Help: "How to authenticate when a username is set (PLAIN and LOGIN only over TLS)."},
		{Name: "from", Title: "From", Type: nodes.String, Required: true, MaxLength: 320, Placeholder: "Acme <news@acme.example>",
			Help: "Sender address, optionally with a display name. A node's from_name overrides the name."},
		{Name: "reply_to", Title: "Reply-To", Type: nodes.String, MaxLength: 320, Help: "Where replies go, if not the From address."},
		{Name: "message_id_domain", Title: "Message-ID domain", Type: nodes.String, MaxLength: 253,
			Help: "Domain of the Message-ID header (<delivery id@domain>); default: the From address's domain."},
		{Name: "unsubscribe_mailbox", Title: "Unsubscribe mailbox", Type: nodes.String, MaxLength: 320,
			Help: "mailto: target of List-Unsubscribe on marketing mail (requests arrive with the token in the subject); default: the From address."},
		{Name: "helo", Title: "HELO name", Type: nodes.String, MaxLength: 253, Help: "Name to greet the server with; default: the Message-ID domain."},
		{Name: "dkim_domain", Title: "DKIM domain", Type: nodes.String, MaxLength: 253, Help: "Sign with DKIM for this domain (d=); leave empty if your provider signs."},
		{Name: "dkim_selector", Title: "DKIM selector", Type: nodes.String, MaxLength: 63, Help: "DKIM selector (s=); the public key is at <selector>._domainkey.<domain>."},
		{Name: "dkim_private_key", Title: "DKIM private key", Type: nodes.Text, Secret: true, MaxLength: 8192,
			Help: "PEM private key (RSA or Ed25519) for DKIM signing."},
		{Name: "timeout_seconds", Title: "Timeout (seconds)", Type: nodes.Integer, Default: int64(30), Min: nodes.Bound(5), Max: nodes.Bound(120),
			Help: "Bound on the whole SMTP conversation for one message."},
	},
	// The password goes to the server (SMTP AUTH); the DKIM key never
	// leaves Waymark.
	Destinations: []connectors.Destination{{Field: "host", Secrets: []string{"password"}}},
	RateLimit:    connectors.Rate{PerSecond: 10, Burst: 10},
	Example:      map[string]any{"host": "smtp.example.com", "port": 587, "tls": "starttls", "username": "apikey", "password": "secret", "from": "Acme <news@acme.example>"},
	Check:        check,
	New:          New,
}

func check(cfg nodes.Config) []nodes.FieldError {
	var errs []nodes.FieldError
	bad := func(f, msg string) { errs = append(errs, nodes.FieldError{Field: f, Message: msg}) }
	if _, err := mail.ParseAddress(cfg.String("from")); err != nil {
		bad("from", "want an email address, optionally with a name: Acme <news@acme.example>")
	}
	for _, f := range []string{"reply_to", "unsubscribe_mailbox"} {
		if v := cfg.String(f); v != "" {
			if _, err := mail.ParseAddress(v); err != nil {
				bad(f, "want an email address")
			}
		}
	}
	if cfg.String("username") != "" && cfg.String("password") == "" {
		bad("password", "required with a username")
	}
	if cfg.String("username") != "" && cfg.String("tls") == TLSNone {
		bad("tls", "none would send the password in clear text; use starttls or implicit")
	}
	dk := []string{cfg.String("dkim_domain"), cfg.String("dkim_selector"), cfg.String("dkim_private_key")}
	if (dk[0] != "" || dk[1] != "" || dk[2] != "") && (dk[0] == "" || dk[1] == "" || dk[2] == "") {
		bad("dkim_domain", "DKIM needs the domain, the selector and the private key")
	} else if dk[2] != "" {
		if _, err := gomail.PrivKeyFromPEM([]byte(dk[2])); err != nil {
			bad("dkim_private_key", "not a PEM RSA or Ed25519 private key")
		}
	}
	return errs
}

// Connector sends through one SMTP server.
type Connector struct {
	host, tlsMode, user, pass, auth string
	port                            int
	from                            *mail.Address
	replyTo, msgIDDomain, unsubBox  string
	helo                            string
	dkim                            *gomail.DKIMSigner
	timeout                         time.Duration
	env                             connectors.Env
}

// New builds a connector from a validated config.
func New(s connectors.Setup) (connectors.Instance, error) {
	cfg := s.Config
	c := &Connector{
		host: strings.TrimSuffix(strings.ToLower(cfg.String("host")), "."), port: int(cfg.Int("port")), tlsMode: cfg.String("tls"),
		user: cfg.String("username"), pass: cfg.String("password"), auth: cfg.String("auth_mechanism"),
		replyTo: cfg.String("reply_to"), timeout: time.Duration(cfg.Int("timeout_seconds")) * time.Second, env: s.Env,
	}
	if err := s.Env.Net.CheckHost(c.host, c.port, netguard.SMTP); err != nil {
		return nil, &connectors.FieldProblem{Field: "host", Message: err.Error()}
	}
	from, err := mail.ParseAddress(cfg.String("from"))
	if err != nil {
		return nil, &connectors.FieldProblem{Field: "from", Message: "want an email address"}
	}
	c.from = from
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	c.msgIDDomain = firstNonEmpty(cfg.String("message_id_domain"), domain)
	c.helo = firstNonEmpty(cfg.String("helo"), c.msgIDDomain)
	c.unsubBox = firstNonEmpty(cfg.String("unsubscribe_mailbox"), from.Address)
	if pem := cfg.String("dkim_private_key"); pem != "" {
		key, err := gomail.PrivKeyFromPEM([]byte(pem))
		if err != nil {
			return nil, &connectors.FieldProblem{Field: "dkim_private_key", Message: "not a PEM RSA or Ed25519 private key"}
		}
		c.dkim = gomail.NewDKIMSigner(cfg.String("dkim_domain"), cfg.String("dkim_selector"), key)
	}
	return c, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// client builds a go-mail client whose connections go through the SSRF
// guard (and, for implicit TLS, are wrapped in TLS by us: go-mail does not
// wrap a custom dialer's connections).
func (c *Connector) client() (*gomail.Client, error) {
	dial := c.env.Net.Dialer(netguard.SMTP)
	tlsConf := c.env.TLSConfig(c.host)
	opts := []gomail.Option{gomail.WithPort(c.port), gomail.WithTimeout(c.timeout), gomail.WithHELO(c.helo)}
	switch c.tlsMode {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(raw, tlsConf)
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			return tc, nil
		}))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithDialContextFunc(dial))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tlsConf), gomail.WithDialContextFunc(dial))
	}
	if c.user != "" {
		mech := map[string]gomail.SMTPAuthType{"plain": gomail.SMTPAuthPlain, "login": gomail.SMTPAuthLogin, "cram-md5": gomail.SMTPAuthCramMD5}[c.auth]
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(c.user), gomail.WithPassword(c.pass))
	}
	if c.dkim != nil {
		opts = append(opts, gomail.WithAlwaysDKIMSign(c.dkim))
	}
	return gomail.NewClient(c.host, opts...)
}

// MessageID returns the Message-ID (without brackets) for a delivery.
func (c *Connector) MessageID(deliveryID string) string {
	id := deliveryID
	if id == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	return id + "@" + c.msgIDDomain
}

func (c *Connector) message(m connectors.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	name := c.from.Name
	if m.FromName != "" {
		name = m.FromName
	}
	if err := msg.FromFormat(name, c.from.Address); err != nil {
		return nil, connectors.PermanentError("bad From address", err)
	}
	if err := msg.To(m.Email); err != nil {
		return nil, connectors.PermanentError(fmt.Sprintf("invalid recipient address %q", m.Email), nil)
	}
	if c.replyTo != "" {
		if err := msg.ReplyTo(c.replyTo); err != nil {
			return nil, connectors.PermanentError("bad Reply-To address", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(c.MessageID(m.DeliveryID))
	msg.SetDateWithValue(c.env.Clock())
	msg.SetUserAgent("Waymark")
	text := m.Text
	if text == "" && m.HTML != "" {
		text = TextFromHTML(m.HTML)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if m.UnsubscribeURL != "" {
		mailto := c.mailto(m.UnsubscribeURL)
		if strings.HasPrefix(m.UnsubscribeURL, "https://") {
			if err := msg.SetListUnsubscribeOneClick(m.UnsubscribeURL, mailto); err != nil {
				return nil, connectors.PermanentError("bad unsubscribe URL", err)
			}
		} else {
			// RFC 8058 one-click needs https; plain-http installs (local
			// development) advertise the link without the POST header.
			msg.SetListUnsubscribe(m.UnsubscribeURL, mailto)
		}
	}
	if m.Test {
		msg.SetGenHeader("X-Waymark-Test", "true")
	}
	return msg, nil
}

// mailto builds the List-Unsubscribe mailto: URI, carrying the link's
// token in the subject so the mailbox's owner can act on it.
func (c *Connector) mailto(unsubscribeURL string) string {
	tok := unsubscribeURL[strings.LastIndexByte(unsubscribeURL, '/')+1:]
	return "mailto:" + c.unsubBox + "?subject=" + url.QueryEscape("unsubscribe "+tok)
}

// Send delivers one email.
func (c *Connector) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	if m.Email == "" {
		return connectors.Result{}, connectors.PermanentError("the profile has no email address", nil)
	}
	msg, err := c.message(m)
	if err != nil {
		return connectors.Result{}, err
	}
	cl, err := c.client()
	if err != nil {
		return connectors.Result{}, connectors.PermanentError("configuring the SMTP client", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err = cl.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server accepted the message; a failure after that (RSET,
		// QUIT) changes nothing.
		return connectors.Result{ProviderID: "<" + c.MessageID(m.DeliveryID) + ">", Status: "sent", Detail: firstNonEmpty(oneLine(msg.ServerResponse()), "accepted")}, nil
	}
	if err == nil {
		return connectors.Result{}, connectors.UnknownError("the server's answer was not recorded", nil)
	}
	return connectors.Result{}, c.classify(ctx, err, m.Email)
}

// Enhanced status codes that mean the mailbox does not exist: the address
// goes on the suppression list (hard bounce).
var hardBounce = map[string]bool{"5.1.1": true, "5.1.2": true, "5.1.10": true}

func (c *Connector) classify(ctx context.Context, err error, rcpt string) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		reason := oneLine(firstNonEmpty(smtpReply(err), se.Error()))
		switch se.Reason {
		case gomail.ErrSMTPDataClose:
			switch {
			case code >= 400 && code < 500:
				return connectors.TransientError(reason, 0, nil)
			case code >= 500:
				return connectors.PermanentError(reason, nil)
			}
			return connectors.UnknownError("connection lost after the message was sent, before the server answered", err)
		case gomail.ErrSMTPRcptTo:
			if code >= 500 {
				if hardBounce[se.EnhancedStatusCode()] && c.env.Suppress != nil {
					if serr := c.env.Suppress(ctx, delivery.SuppressEmail, rcpt, delivery.ReasonHardBounce); serr != nil {
						c.env.Log().Error("recording hard bounce", "error", serr.Error())
					}
					return connectors.SuppressedError(reason + " (hard bounce; added to the suppression list)")
				}
				return connectors.PermanentError(reason, nil)
			}
			return connectors.TransientError(reason, 0, nil)
		case gomail.ErrSMTPMailFrom:
			if code >= 500 {
				// The sender is refused: the connector's setup, not this
				// recipient. Keep the message for when it is fixed.
				return connectors.TransientError(reason+" (check the connector's From address)", 5*time.Minute, nil)
			}
			return connectors.TransientError(reason, 0, nil)
		case gomail.ErrSMTPData:
			if code >= 500 {
				return connectors.PermanentError(reason, nil)
			}
			return connectors.TransientError(reason, 0, nil)
		}
		// Writing the body, the connection check: nothing was accepted.
		return connectors.TransientError(reason, 0, nil)
	}
	// Before any message command: dial, TLS, AUTH.
	if errors.Is(err, netguard.ErrRefused) {
		return connectors.PermanentError(netguard.ErrRefused.Error(), nil)
	}
	if reply := smtpReply(err); reply != "" {
		return connectors.TransientError("SMTP: "+oneLine(reply)+" (check the connector's settings)", 5*time.Minute, nil)
	}
	if ctx.Err() != nil {
		return connectors.TransientError("timed out before the message was sent", 0, err)
	}
	return connectors.TransientError("could not connect to the SMTP server: "+oneLine(strings.TrimPrefix(err.Error(), "dial failed: ")), 0, nil)
}

// smtpReply finds the server's reply ("550 5.1.1 No such user") in err.
func smtpReply(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Sprintf("%d %s", te.Code, te.Msg)
	}
	if m := replyRE.FindString(err.Error()); m != "" {
		return m
	}
	return ""
}

var replyRE = regexp.MustCompile(`[45][0-9][0-9] [^,]*`)

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Test connects (TLS, AUTH) and says QUIT, or sends a test email to to.
func (c *Connector) Test(ctx context.Context, to string) connectors.TestResult {
	if to != "" {
		if _, err := mail.ParseAddress(to); err != nil {
			return connectors.TestResult{Detail: "not an email address: " + to}
		}
		res, err := c.Send(ctx, connectors.Message{DeliveryID: "test-" + randomHex(8), Kind: connectors.KindSendEmail, Test: true, Email: to,
			Subject: "Waymark test message",
			Text:    "Your SMTP connector works: this message went through it.",
			HTML:    "<p>Your SMTP connector works: this message went through it.</p>"})
		if err != nil {
			return connectors.TestResult{Detail: connectors.Describe(err)}
		}
		return connectors.TestResult{OK: true, Detail: "Sent; the server answered: " + res.Detail}
	}
	cl, err := c.client()
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sc, err := cl.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(c.classify(ctx, err, ""))}
	}
	_ = cl.CloseWithSMTPClient(sc)
	detail := fmt.Sprintf("Connected to %s:%d (TLS: %s)", c.host, c.port, c.tlsMode)
	if c.user != "" {
		detail += ", authenticated as " + c.user
	}
	return connectors.TestResult{OK: true, Detail: detail}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	dropRE  = regexp.MustCompile(`(?is)<(script|style|head)[^>]*>.*?</(script|style|head)>`)
	breakRE = regexp.MustCompile(`(?i)<(br|/li|/tr)[^>]*>`)
	paraRE  = regexp.MustCompile(`(?i)</(p|div|h[1-6]|table|ul|ol)>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	blankRE = regexp.MustCompile(`\n{3,}`)
)

// TextFromHTML makes the plain-text part of an email that has only HTML.
func TextFromHTML(s string) string {
	s = dropRE.ReplaceAllString(s, "")
	s = paraRE.ReplaceAllString(s, "\n\n")
	s = breakRE.ReplaceAllString(s, "\n")
	s = tagRE.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.TrimSpace(blankRE.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// IdempotentSends reports whether re-sending after a crash is safe: SMTP has no idempotency key: a second attempt is a second email.
func (c *Connector) IdempotentSends() bool { return false }
