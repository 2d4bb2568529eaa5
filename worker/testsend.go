package worker

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
)

// TestSendPrefix marks a test message's email subject and SMS body.
const TestSendPrefix = "[Test] "

// Test-send input errors (the API answers them with a 4xx).
var (
	ErrTestNotAction       = errors.New("the node is not a message action")
	ErrTestBadRecipient    = errors.New("bad recipient")
	ErrTestNoConnector     = errors.New("connector missing")
	ErrTestRenderingFailed = errors.New("the message does not render")
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// TestRecipient checks the address a test of a node kind goes to: an email
// address for send_email, an E.164 phone number for send_sms; a webhook
// test goes to its connector's URL and takes no address.
func TestRecipient(kind, to string) (string, error) {
	to = strings.TrimSpace(to)
	switch kind {
	case "send_email":
		a, err := mail.ParseAddress(to)
		if err != nil || a.Address != to || !strings.Contains(to, "@") {
			return "", fmt.Errorf("%w: %q is not an email address", ErrTestBadRecipient, to)
		}
		return to, nil
	case "send_sms":
		if !e164.MatchString(to) {
			return "", fmt.Errorf("%w: %q is not a phone number in E.164 form (e.g. +14155550123)", ErrTestBadRecipient, to)
		}
		return to, nil
	case "send_webhook":
		return "", nil
	}
	return "", fmt.Errorf("%w: a %s node cannot be sent as a test (only send_email, send_sms and send_webhook)", ErrTestNotAction, kind)
}

// TestSendResult is a test send's rendered message and the provider's answer.
type TestSendResult struct {
	Message connectors.Message
	Result  connectors.Result
	// SendErr is the connector's failure (the message did not go out, or
	// may not have); the caller records it. Input problems come back as
	// the function's error instead.
	SendErr error
}

// SendTest renders node nodeID of c with profile p's data and sends it
// through the node's real connector to `to`, marked as a test: the subject
// (email) or body (SMS) starts with "[Test] " and Message.Test is set.
// Suppressions, consent, quiet hours and frequency caps do not apply to a
// test (the sender chose the address); the connector's own rules (SSRF
// guard, secrets, rate limits) do. Nothing is written: the caller records
// the test send.
func (e *Engine) SendTest(ctx context.Context, c *flows.Compiled, nodeID string, j store.Journey, version int, p store.Profile, to, idempotencyKey string) (TestSendResult, error) {
	n, ok := c.Nodes[nodeID]
	if !ok {
		return TestSendResult{}, fmt.Errorf("node %q: %w", nodeID, store.ErrNotFound)
	}
	recipient, err := TestRecipient(n.Kind, to)
	if err != nil {
		return TestSendResult{}, err
	}
	switch n.Kind {
	case "send_email":
		p.Email = recipient
	case "send_sms":
		p.Phone = recipient
	}
	now := e.now()
	run := store.Run{ID: "test", WorkspaceID: j.WorkspaceID, JourneyID: j.ID, Version: version, ProfileID: p.ID, EnteredAt: now}
	x := &exec{e: e, run: run, journey: j, c: c, profile: p, now: now}
	x.env = e.env(run, j, p, now)
	msg, err := x.render(n)
	if err != nil {
		return TestSendResult{}, fmt.Errorf("%w: %v", ErrTestRenderingFailed, err)
	}
	msg.Test = true
	msg.IdempotencyKey, msg.DeliveryID = idempotencyKey, idempotencyKey
	switch n.Kind {
	case "send_email":
		msg.Subject = TestSendPrefix + msg.Subject
	case "send_sms":
		msg.Text = TestSendPrefix + msg.Text
	}
	name := n.Config.String("connector")
	conn, err := e.cfg.Connectors.Resolve(ctx, j.WorkspaceID, name)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, connectors.ErrDisabled) {
		return TestSendResult{Message: msg}, fmt.Errorf("%w: connector %q does not exist or is disabled", ErrTestNoConnector, name)
	}
	if err != nil {
		// A connector that cannot be built under today's rules (the SSRF
		// guard, a secret that no longer opens): the test fails, recorded,
		// as its runs' sends would.
		return TestSendResult{Message: msg, SendErr: err}, nil
	}
	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, sendErr := conn.Send(sendCtx, msg)
	return TestSendResult{Message: msg, Result: res, SendErr: sendErr}, nil
}
