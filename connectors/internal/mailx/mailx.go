// Package mailx holds what the HTTP email connectors (SES, SendGrid,
// Postmark) share: the sender, the parts of a message, the headers every
// message carries (Waymark's delivery id and idempotency key, RFC 8058
// one-click unsubscribe on marketing mail), the callback URL, the test
// message, and the suppression a webhook asks for.
package mailx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/mail"
	"strings"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/delivery"
	"github.com/waymarkhq/waymark/connectors/smtp"
	"github.com/waymarkhq/waymark/nodes"
)

// Header names Waymark sets on every message, so a retried step is
// recognisable at the provider and in the recipient's headers.
const (
	HeaderDeliveryID     = "X-Waymark-Delivery-Id"
	HeaderIdempotencyKey = "X-Waymark-Idempotency-Key"
	HeaderTest           = "X-Waymark-Test"
)

// CheckAddress validates an optional address field of a config.
func CheckAddress(cfg nodes.Config, field string, required bool) []nodes.FieldError {
	v := cfg.String(field)
	if v == "" {
		if required {
			return []nodes.FieldError{{Field: field, Message: "required"}}
		}
		return nil
	}
	if _, err := mail.ParseAddress(v); err != nil {
		return []nodes.FieldError{{Field: field, Message: "want an email address, optionally with a name: Acme <news@acme.example>"}}
	}
	return nil
}

// Sender is the From of a message: the connector's address, the node's
// from_name over the configured name.
func Sender(from *mail.Address, m connectors.Message) mail.Address {
	a := *from
	if m.FromName != "" {
		a.Name = m.FromName
	}
	return a
}

// Bodies returns the text and HTML parts; a message with only HTML gets
// a text part made from it.
func Bodies(m connectors.Message) (text, html string) {
	text, html = m.Text, m.HTML
	if text == "" && html != "" {
		text = smtp.TextFromHTML(html)
	}
	return text, html
}

// Header is one message header.
type Header struct{ Name, Value string }

// Headers are what every message carries: the delivery id and the
// idempotency key (the same on every retry of the step), the test mark,
// and for marketing mail (an unsubscribe URL) List-Unsubscribe, with
// List-Unsubscribe-Post for one-click (RFC 8058) when the link is https.
func Headers(m connectors.Message) []Header {
	var hs []Header
	if m.DeliveryID != "" {
		hs = append(hs, Header{HeaderDeliveryID, m.DeliveryID})
	}
	if m.IdempotencyKey != "" {
		hs = append(hs, Header{HeaderIdempotencyKey, m.IdempotencyKey})
	}
	if m.Test {
		hs = append(hs, Header{HeaderTest, "true"})
	}
	if m.UnsubscribeURL != "" {
		hs = append(hs, Header{"List-Unsubscribe", "<" + m.UnsubscribeURL + ">"})
		if strings.HasPrefix(m.UnsubscribeURL, "https://") {
			hs = append(hs, Header{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
		}
	}
	return hs
}

// CallbackURL is where a provider reports a connector's events, or "" when
// Waymark's public URL is not set.
func CallbackURL(env connectors.Env, typeName, connectorID string) string {
	if env.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(env.PublicURL, "/") + "/callbacks/" + typeName + "/" + connectorID
}

// TestMessage is the email "Send test" sends.
func TestMessage(title, to string) connectors.Message {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := "test-" + hex.EncodeToString(b)
	return connectors.Message{DeliveryID: id, IdempotencyKey: id, Kind: connectors.KindSendEmail, Test: true, Email: to,
		Subject: "Waymark test message",
		Text:    "Your " + title + " connector works: this message went through it.",
		HTML:    "<p>Your " + title + " connector works: this message went through it.</p>"}
}

// SendTest is a provider's "Send test" to the address to: the test
// message through send, its answer naming the provider's message id
// (short names the provider) and then note (the webhook to set up).
func SendTest(ctx context.Context, send func(context.Context, connectors.Message) (connectors.Result, error), title, short, to, note string) connectors.TestResult {
	if p := CheckTo(to); p != "" {
		return connectors.TestResult{Detail: p}
	}
	res, err := send(ctx, TestMessage(title, to))
	if err != nil {
		return connectors.TestResult{Detail: connectors.Describe(err)}
	}
	return connectors.TestResult{OK: true, Detail: "Sent: " + short + " message " + res.ProviderID + ". " + note}
}

// CheckTo validates a "Send test" address.
func CheckTo(to string) string {
	if _, err := mail.ParseAddress(to); err != nil {
		return "not an email address: " + to
	}
	return ""
}

// Suppress is the suppression a bounce or complaint asks for.
func Suppress(address, reason string) *connectors.Suppression {
	if address == "" {
		return nil
	}
	return &connectors.Suppression{Channel: delivery.SuppressEmail, Address: address, Reason: reason}
}

// Clip shortens s to n bytes on one line, for error texts.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
