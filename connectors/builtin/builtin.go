// Package builtin registers Waymark's connector types. cmd builds the
// registry explicitly:
//
//	reg := connectors.NewRegistry()
//	if err := builtin.Register(reg); err != nil { … }
package builtin

import (
	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/google"
	"github.com/waymarkhq/waymark/connectors/meta"
	"github.com/waymarkhq/waymark/connectors/postmark"
	"github.com/waymarkhq/waymark/connectors/sandbox"
	"github.com/waymarkhq/waymark/connectors/sendgrid"
	"github.com/waymarkhq/waymark/connectors/ses"
	"github.com/waymarkhq/waymark/connectors/smtp"
	"github.com/waymarkhq/waymark/connectors/twilio"
	"github.com/waymarkhq/waymark/connectors/webhook"
)

// Types are the built-in connector types, in the order the UI lists them.
func Types() []connectors.Type {
	return []connectors.Type{sandbox.Type, smtp.Type, ses.Type, sendgrid.Type, postmark.Type, twilio.Type, webhook.Type, meta.Type, google.Type}
}

// Register adds every built-in type to reg.
func Register(reg *connectors.Registry) error {
	for _, t := range Types() {
		if err := reg.Register(t); err != nil {
			return err
		}
	}
	return nil
}

// NewRegistry returns a registry with every built-in type.
func NewRegistry() (*connectors.Registry, error) {
	reg := connectors.NewRegistry()
	return reg, Register(reg)
}
