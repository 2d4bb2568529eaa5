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
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// TestSendPrefix marks the part of a test message its kind names
// (nodes.TestSend.Mark): an email's subject, an SMS's body.
const TestSendPrefix = "[Test] "

// Test-send input errors (the API answers them with a 4xx).
var (
	ErrTestNotAction       = errors.New("the node is not a message action")
	ErrTestBadRecipient    = errors.New("bad recipient")
	ErrTestNoConnector     = errors.New("connector missing")
	ErrTestRenderingFailed = errors.New("the message does not render")
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// TestRecipient checks the address a test of a node kind goes to, by the
// kind's nodes.TestSend: an email address for a test that goes to the
// profile's email (send_email), an E.164 phone number for one that goes to
// its phone (send_sms); a test that takes no address (send_webhook: its
// connector's URL) ignores to. Kinds that cannot be sent as a test are
// ErrTestNotAction.
func TestRecipient(reg *nodes.Registry, kind, to string) (string, error) {
	spec, _ := reg.Lookup(kind)
	return testRecipient(reg, spec, kind, to)
}

func testRecipient(reg *nodes.Registry, spec nodes.Spec, kind, to string) (string, error) {
	to = strings.TrimSpace(to)
	if spec.Action == nil || spec.Action.Test == nil {
		var testable []string
		for _, s := range specsOf(reg) {
			if s.Action != nil && s.Action.Test != nil {
				testable = append(testable, s.Kind)
			}
		}
		only := strings.Join(testable, ", ")
		if n := len(testable); n > 1 {
			only = strings.Join(testable[:n-1], ", ") + " and " + testable[n-1]
		}
		return "", fmt.Errorf("%w: a %s node cannot be sent as a test (only %s)", ErrTestNotAction, kind, only)
	}
	switch spec.Action.Test.To {
	case nodes.ProfileEmail:
		a, err := mail.ParseAddress(to)
		if err != nil || a.Address != to || !strings.Contains(to, "@") {
			return "", fmt.Errorf("%w: %q is not an email address", ErrTestBadRecipient, to)
		}
		return to, nil
	case nodes.ProfilePhone:
		if !e164.MatchString(to) {
			return "", fmt.Errorf("%w: %q is not a phone number in E.164 form (e.g. +14155550123)", ErrTestBadRecipient, to)
		}
		return to, nil
	}
	return "", nil
}

func specsOf(reg *nodes.Registry) []nodes.Spec {
	if reg == nil {
		return nil
	}
	return reg.Specs()
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
// through the node's real connector to `to`, marked as a test: the part
// its kind's nodes.TestSend names (an email's subject, an SMS's body)
// starts with "[Test] " and Message.Test is set.
// Suppressions, consent, quiet hours and frequency caps do not apply to a
// test (the sender chose the address); the connector's own rules (SSRF
// guard, secrets, rate limits) do. Nothing is written: the caller records
// the test send.
func (e *Engine) SendTest(ctx context.Context, c *flows.Compiled, nodeID string, j store.Journey, version int, p store.Profile, to, idempotencyKey string) (TestSendResult, error) {
	n, ok := c.Nodes[nodeID]
	if !ok {
		return TestSendResult{}, fmt.Errorf("node %q: %w", nodeID, store.ErrNotFound)
	}
	recipient, err := testRecipient(e.cfg.Registry, n.Spec, n.Kind, to)
	if err != nil {
		return TestSendResult{}, err
	}
	test := n.Spec.Action.Test
	if f := profileField(&p, test.To); f != nil {
		*f = recipient // the test address stands in for the profile's
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
	if part := messagePart(&msg, test.Mark); part != nil {
		*part = TestSendPrefix + *part
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
