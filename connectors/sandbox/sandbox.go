// Package sandbox is the test inbox: a connector that sends nothing. The
// engine has already written each message, rendered, as a delivery row
// with connector "sandbox"; the Test inbox page and GET
// /api/v1/sandbox/messages read them from there.
package sandbox

import (
	"context"

	"github.com/waymarkhq/waymark/connectors"
)

// Type is the sandbox connector type. Every workspace has one connector of
// it, named "sandbox", without a row.
var Type = connectors.Type{
	Name:    connectors.SandboxName,
	Title:   "Test inbox (sandbox)",
	Help:    "Records every message in the Test inbox instead of sending it. Always present as the connector named \"sandbox\"; it serves every action kind.",
	Kinds:   []string{connectors.KindSendEmail, connectors.KindSendSMS, connectors.KindSendWebhook, connectors.KindAudienceAdd, connectors.KindAudienceRemove},
	Fields:  nil,
	Builtin: true,
	// Nothing leaves the process, so nothing to protect: the limit is
	// never applied to the sandbox.
	RateLimit: connectors.Rate{PerSecond: 100000, Burst: 100000},
	New:       func(connectors.Setup) (connectors.Instance, error) { return Connector{}, nil },
}

// Connector is the sandbox.
type Connector struct{}

// Send accepts the message: it is already recorded as a delivery.
func (Connector) Send(_ context.Context, m connectors.Message) (connectors.Result, error) {
	return connectors.Result{ProviderID: "sandbox:" + m.DeliveryID, Status: "delivered", Detail: "recorded in the Test inbox"}, nil
}

// Test always succeeds.
func (Connector) Test(context.Context, string) connectors.TestResult {
	return connectors.TestResult{OK: true, Detail: "The sandbox records every message in the Test inbox; nothing is sent. Test sends from journeys appear there."}
}

// IdempotentSends reports whether re-sending after a crash is safe: nothing is sent, so sending again cannot duplicate.
func (Connector) IdempotentSends() bool { return true }
