// Package connectors is how journeys reach people: email, SMS, outbound
// webhooks and ad-platform audiences. Each connector type is declared once
// (a Type: config fields, the node kinds it serves, a constructor, a test
// call, a default rate limit); the engine calls a configured Connector
// through the small interface below.
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message is one action of a run, rendered and ready to go out.
type Message struct {
	// DeliveryID is the deliveries row's id; IdempotencyKey derives from
	// (run, sequence) and is the same on every retry of the step.
	DeliveryID     string
	IdempotencyKey string
	WorkspaceID    string
	Kind           string // node kind: send_email, send_sms, send_webhook, audience_add, audience_remove
	Test           bool   // a test send: not counted in analytics

	// Recipient.
	ProfileID  string // external id
	Email      string
	Phone      string // E.164
	Timezone   string
	Attributes map[string]any // for audience matching (e.g. country, zip), never secrets
	// Consent is the profile's consent flags as stored (e.g. {"ads": true,
	// "ad_user_data": true, "ad_personalization": false}). Audience
	// connectors upload nobody without ad consent.
	Consent map[string]any

	// Content (by kind).
	Subject        string
	HTML           string
	Text           string
	FromName       string
	Payload        json.RawMessage // send_webhook body
	UnsubscribeURL string          // marketing email: List-Unsubscribe target
}

// Result is what the provider said.
type Result struct {
	ProviderID string // provider's message id, if any
	Status     string // "sent" (accepted) or "delivered" (final, e.g. sandbox)
	Detail     string // short, safe to show to users
}

// Connector sends messages through one configured provider account.
type Connector interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Class says what the engine should do about a failed send.
type Class int

// Failure classes.
const (
	// Transient: try again later (429, 5xx, connection refused before sending).
	Transient Class = iota
	// Permanent: retrying cannot help (invalid number, 4xx validation, hard bounce).
	Permanent
	// Unknown: the request may have reached the provider (timeout after
	// sending, connection lost after SMTP DATA). Not re-sent blindly.
	Unknown
)

func (c Class) String() string { return [...]string{"transient", "permanent", "unknown"}[c] }

// Error is a classified send failure.
type Error struct {
	Class      Class
	RetryAfter time.Duration // honoured for Transient, 0 = engine's backoff
	Reason     string        // short, safe to show to users and store
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Class, e.Reason, e.Err)
	}
	return e.Class.String() + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// TransientError, PermanentError and UnknownError build classified errors.
func TransientError(reason string, retryAfter time.Duration, err error) error {
	return &Error{Class: Transient, RetryAfter: retryAfter, Reason: reason, Err: err}
}

// PermanentError marks a failure that retrying cannot fix.
func PermanentError(reason string, err error) error {
	return &Error{Class: Permanent, Reason: reason, Err: err}
}

// ErrSuppressed marks a message that was deliberately not sent: the
// recipient unsubscribed, replied STOP, hard-bounced or gave no consent.
// It is Permanent; the engine may record the delivery as "suppressed"
// rather than "failed" (errors.Is(err, ErrSuppressed)).
var ErrSuppressed = errors.New("suppressed")

// SuppressedError builds a Permanent error wrapping ErrSuppressed.
func SuppressedError(reason string) error {
	return &Error{Class: Permanent, Reason: reason, Err: ErrSuppressed}
}

// UnknownError marks a send whose outcome cannot be known.
func UnknownError(reason string, err error) error {
	return &Error{Class: Unknown, Reason: reason, Err: err}
}

// Classify returns the class of err; unclassified errors are transient, as
// a conservative default (context deadline after the request was written
// must be reported as UnknownError by the connector itself).
func Classify(err error) (Class, time.Duration, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Class, e.RetryAfter, e.Reason
	}
	return Transient, 0, err.Error()
}

// Resolver finds the configured connector a journey names.
type Resolver interface {
	Resolve(ctx context.Context, workspaceID, name string) (Connector, error)
}
