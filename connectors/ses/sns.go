package ses

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/internal/httpx"
	"github.com/waymarkhq/waymark/connectors/internal/mailx"
)

// SNSMessage is an Amazon SNS HTTP(S) message: a notification, or the
// confirmation of a subscription (or of its end).
type SNSMessage struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token,omitempty"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject,omitempty"`
	Message          string `json:"Message"`
	SubscribeURL     string `json:"SubscribeURL,omitempty"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	UnsubscribeURL   string `json:"UnsubscribeURL,omitempty"`
}

// StringToSign is what SNS signs: the message's fields as "name\nvalue\n"
// in the documented order (Subject only when present on notifications).
func (m SNSMessage) StringToSign() (string, error) {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", fmt.Errorf("unknown SNS message type %q", mailx.Clip(m.Type, 40))
	}
	return b.String(), nil
}

// snsHostRE is the only host SNS certificates and subscription links may
// come from.
var snsHostRE = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// testHosts are hosts (host:port) a test trusts as SNS hosts.
var testHosts sync.Map

// TrustHostForTests lets SNS certificate and subscription URLs on host
// (host:port of an httptest TLS server) pass the host rule, until the
// returned function is called. It panics outside a test binary: no
// configuration can loosen the rule.
func TrustHostForTests(host string) (undo func()) {
	if !testing.Testing() {
		panic("ses.TrustHostForTests called outside a test")
	}
	testHosts.Store(host, true)
	return func() { testHosts.Delete(host) }
}

// CheckSNSURL checks that raw is an https URL on an SNS host (and, for a
// certificate, that its path is a .pem file).
func CheckSNSURL(raw string, cert bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Opaque != "" {
		return nil, errors.New("not an https URL")
	}
	if _, trusted := testHosts.Load(u.Host); !trusted {
		if u.Port() != "" || !snsHostRE.MatchString(u.Host) {
			return nil, fmt.Errorf("host %q is not an Amazon SNS host", mailx.Clip(u.Host, 80))
		}
	}
	if cert && !strings.HasSuffix(u.Path, ".pem") {
		return nil, errors.New("not a .pem certificate URL")
	}
	return u, nil
}

// certCache keeps SNS signing certificates by URL. It is the process's,
// not a connector's: Waymark builds the connector afresh for each
// callback, and the certificates are public and named by their URL.
var certCache = struct {
	sync.Mutex
	m map[string]cachedCert
}{m: map[string]cachedCert{}}

type cachedCert struct {
	key     *rsa.PublicKey
	fetched time.Time
}

const (
	certTTL      = 24 * time.Hour
	maxCachedCrt = 64
)

func (c *Connector) signingKey(ctx context.Context, raw string) (*rsa.PublicKey, error) {
	now := c.env.Clock()
	certCache.Lock()
	e, ok := certCache.m[raw]
	certCache.Unlock()
	if ok && now.Sub(e.fetched) < certTTL {
		return e.key, nil
	}
	u, err := CheckSNSURL(raw, true)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, _, err := httpx.Do(c.client, req)
	if err != nil {
		return nil, fmt.Errorf("fetching the SNS signing certificate: %w", err)
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("fetching the SNS signing certificate: HTTP %d", resp.Status)
	}
	block, _ := pem.Decode(resp.Body)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the SNS signing certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the SNS signing certificate: %w", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the SNS signing certificate has no RSA key")
	}
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, errors.New("the SNS signing certificate is not valid now")
	}
	certCache.Lock()
	if len(certCache.m) >= maxCachedCrt {
		clear(certCache.m)
	}
	certCache.m[raw] = cachedCert{key: key, fetched: now}
	certCache.Unlock()
	return key, nil
}

// verify checks an SNS message's signature.
func (c *Connector) verify(ctx context.Context, m SNSMessage) error {
	s, err := m.StringToSign()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return errors.New("the signature is not base64")
	}
	var h crypto.Hash
	var digest []byte
	switch m.SignatureVersion {
	case "1":
		sum := sha1.Sum([]byte(s)) //nolint:gosec // SNS SignatureVersion 1
		h, digest = crypto.SHA1, sum[:]
	case "2":
		sum := sha256.Sum256([]byte(s))
		h, digest = crypto.SHA256, sum[:]
	default:
		return fmt.Errorf("unknown SignatureVersion %q", mailx.Clip(m.SignatureVersion, 10))
	}
	key, err := c.signingKey(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	return rsa.VerifyPKCS1v15(key, h, digest, sig)
}

// MaxCallbackBody bounds an SNS message (SNS messages are at most 256 KB).
const MaxCallbackBody = 512 << 10

// HandleCallback takes one SNS message: it verifies the signature and the
// topic, confirms a subscription, and turns SES events into statuses.
func (c *Connector) HandleCallback(ctx context.Context, req connectors.CallbackRequest) ([]connectors.StatusUpdate, error) {
	log := c.env.Log().With("connector_id", c.id)
	if len(req.Body) > MaxCallbackBody {
		return nil, connectors.ErrBadSignature
	}
	var m SNSMessage
	if err := json.Unmarshal(req.Body, &m); err != nil {
		log.Warn("SES callback: not an SNS message", "error", err.Error())
		return nil, connectors.ErrBadSignature
	}
	if err := c.verify(ctx, m); err != nil {
		log.Warn("SES callback: SNS signature does not verify", "error", err.Error(), "topic_arn", mailx.Clip(m.TopicArn, 300))
		return nil, connectors.ErrBadSignature
	}
	if !c.topics[m.TopicArn] {
		log.Warn("SES callback: SNS topic not listed on the connector", "topic_arn", mailx.Clip(m.TopicArn, 300))
		return nil, connectors.ErrBadSignature
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		return nil, c.confirm(ctx, m)
	case "Notification":
		ups, err := EventUpdates([]byte(m.Message))
		if err != nil {
			// Signed by SNS on a listed topic but not an SES event (a test
			// message published by hand): acknowledged, nothing to do.
			log.Info("SES callback: notification is not an SES event", "error", err.Error())
			return nil, nil
		}
		return ups, nil
	}
	return nil, nil
}

// confirm visits the SubscribeURL (checked like a certificate URL).
func (c *Connector) confirm(ctx context.Context, m SNSMessage) error {
	u, err := CheckSNSURL(m.SubscribeURL, false)
	if err != nil || u.Query().Get("Action") != "ConfirmSubscription" {
		c.env.Log().Warn("SES callback: refusing an SNS SubscribeURL", "url", mailx.Clip(m.SubscribeURL, 300))
		return connectors.ErrBadSignature
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, _, err := httpx.Do(c.client, req)
	if err != nil {
		return fmt.Errorf("confirming the SNS subscription: %w", err)
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("confirming the SNS subscription: HTTP %d: %s", resp.Status, httpx.Snippet(resp.Body, 200))
	}
	c.env.Log().Info("SES callback: SNS subscription confirmed", "connector_id", c.id, "topic_arn", m.TopicArn)
	return nil
}

// Event is an SES event (configuration-set event publishing: eventType) or
// notification (identity feedback: notificationType), as far as Waymark
// reads it.
type Event struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Mail             struct {
		MessageID   string   `json:"messageId"`
		Destination []string `json:"destination"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
			Status         string `json:"status"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
	Failure *struct {
		ErrorMessage string `json:"errorMessage"`
	} `json:"failure"`
}

// EventUpdates says what an SES event means for its delivery: Delivery
// delivers; a Permanent bounce fails it and suppresses the address
// (hard_bounce); a Transient or Undetermined bounce only fails it; a
// Complaint suppresses (complaint); Reject and Rendering Failure fail it.
// Other events (Send, Open, Click, DeliveryDelay…) change nothing.
func EventUpdates(raw []byte) ([]connectors.StatusUpdate, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	typ := e.EventType
	if typ == "" {
		typ = e.NotificationType
	}
	id := e.Mail.MessageID
	if typ == "" || id == "" {
		return nil, errors.New("no eventType or mail.messageId")
	}
	switch typ {
	case "Delivery":
		return []connectors.StatusUpdate{{ProviderID: id, Status: delivery.Delivered}}, nil
	case "Bounce":
		if e.Bounce == nil {
			return nil, errors.New("a Bounce without bounce")
		}
		var out []connectors.StatusUpdate
		for _, r := range e.Bounce.BouncedRecipients {
			u := connectors.StatusUpdate{ProviderID: id, Status: delivery.Failed}
			detail := mailx.Clip(strings.TrimSpace(e.Bounce.BounceSubType+" "+r.DiagnosticCode), 300)
			if e.Bounce.BounceType == "Permanent" {
				u.Error = "SES: hard bounce: " + detail
				u.Suppress = mailx.Suppress(r.EmailAddress, delivery.ReasonHardBounce)
			} else {
				u.Error = "SES: soft bounce (" + e.Bounce.BounceType + "): " + detail
			}
			out = append(out, u)
		}
		if len(out) == 0 {
			out = append(out, connectors.StatusUpdate{ProviderID: id, Status: delivery.Failed, Error: "SES: bounce (" + e.Bounce.BounceType + ")"})
		}
		return out, nil
	case "Complaint":
		if e.Complaint == nil {
			return nil, errors.New("a Complaint without complaint")
		}
		var out []connectors.StatusUpdate
		for _, r := range e.Complaint.ComplainedRecipients {
			out = append(out, connectors.StatusUpdate{ProviderID: id, Suppress: mailx.Suppress(r.EmailAddress, delivery.ReasonComplaint)})
		}
		return out, nil
	case "Reject":
		reason := "rejected"
		if e.Reject != nil && e.Reject.Reason != "" {
			reason += ": " + mailx.Clip(e.Reject.Reason, 200)
		}
		return []connectors.StatusUpdate{{ProviderID: id, Status: delivery.Failed, Error: "SES: " + reason}}, nil
	case "Rendering Failure":
		msg := "SES: rendering failure"
		if e.Failure != nil && e.Failure.ErrorMessage != "" {
			msg += ": " + mailx.Clip(e.Failure.ErrorMessage, 200)
		}
		return []connectors.StatusUpdate{{ProviderID: id, Status: delivery.Failed, Error: msg}}, nil
	}
	return nil, nil
}
