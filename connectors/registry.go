package connectors

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/nodes"
	nodebuiltin "github.com/waymarkhq/waymark/nodes/builtin"
)

// The built-in channels, as the built-in action kinds name them
// (nodes.ActionSpec.Channel) and suppressions use them.
const (
	ChannelEmail    = "email"
	ChannelSMS      = "sms"
	ChannelWebhook  = "webhook"
	ChannelAudience = "audience"
)

// The built-in node kinds connectors serve (nodes/builtin declares them).
const (
	KindSendEmail      = "send_email"
	KindSendSMS        = "send_sms"
	KindSendWebhook    = "send_webhook"
	KindAudienceAdd    = "audience_add"
	KindAudienceRemove = "audience_remove"
)

// Rate is a connector's send rate limit, shared by every worker process.
type Rate struct {
	PerSecond float64 `json:"per_second"`
	Burst     int     `json:"burst"`
}

// RateFor returns the rate for a per-second figure: the burst is one
// second's worth (at least 1).
func RateFor(perSecond float64) Rate {
	return Rate{PerSecond: perSecond, Burst: max(1, int(math.Ceil(perSecond)))}
}

// FieldRateLimit is the config field every type gets: messages per
// second across all workers, defaulting to the type's RateLimit.
const FieldRateLimit = "rate_limit"

// Type declares a connector type once: the spec drives the admin form, the
// API schema (GET /api/v1/connector-types), validation and the reference
// docs (docs/connectors.md).
type Type struct {
	Name    string `json:"name"` // snake_case, e.g. "smtp"
	Title   string `json:"title"`
	Help    string `json:"help"`
	Channel string `json:"channel"` // email, sms, webhook or audience; "" for the sandbox
	// Kinds are the node kinds it serves.
	Kinds  []string      `json:"kinds"`
	Fields []nodes.Field `json:"fields"`
	// Destinations name the fields that say where the connector talks and
	// the secrets that go there (see Destination).
	Destinations []Destination `json:"destinations,omitempty"`
	// RateLimit is the default; each connector may set its own rate_limit.
	RateLimit Rate `json:"rate_limit"`
	// Builtin: exists in every workspace without a row (the sandbox); it
	// cannot be created, edited or deleted.
	Builtin bool `json:"builtin,omitempty"`
	// Example is a valid config for the docs (and checked by tests).
	Example map[string]any `json:"example,omitempty"`
	// Check validates relations between fields of a normalised config.
	Check func(cfg nodes.Config) []nodes.FieldError `json:"-"`
	// New builds a connector from a validated config with secrets opened.
	New func(s Setup) (Instance, error) `json:"-"`
}

// Destination declares a config field that says where a connector talks
// (a host, a URL) and the secret fields that go there: sent as
// credentials, or used to obtain what is sent. A stored secret never
// follows a new destination: an update that changes the field must give
// these secrets again, or Service.Update refuses it (otherwise whoever may
// edit the connector could read its write-only secrets by pointing it at
// their own server).
type Destination struct {
	Field   string   `json:"field"`
	Secrets []string `json:"secrets"`
}

// Serves reports whether the type serves a node kind.
func (t Type) Serves(kind string) bool { return slices.Contains(t.Kinds, kind) }

// Field returns the field with this name.
func (t Type) Field(name string) (nodes.Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nodes.Field{}, false
}

// SecretFields lists the names of the secret fields.
func (t Type) SecretFields() []string {
	var out []string
	for _, f := range t.Fields {
		if f.Secret {
			out = append(out, f.Name)
		}
	}
	return out
}

// Normalize validates a raw config (secrets included, as plain text)
// against the fields and the type's Check. Empty strings count as absent,
// as an HTML form sends them.
func (t Type) Normalize(raw map[string]any) (nodes.Config, []nodes.FieldError) {
	clean := make(map[string]any, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		clean[k] = v
	}
	cfg, errs := nodes.Spec{Kind: t.Name, Fields: t.Fields}.Normalize(clean)
	if len(errs) == 0 && t.Check != nil {
		errs = t.Check(cfg)
	}
	return cfg, errs
}

// RateOf returns the rate a connector with this config runs at.
func (t Type) RateOf(cfg nodes.Config) Rate {
	if v, ok := cfg[FieldRateLimit].(float64); ok && v > 0 {
		return RateFor(v)
	}
	return t.RateLimit
}

// Setup is what a constructor gets.
type Setup struct {
	ID          string // connector id ("sandbox" for the built-in one)
	WorkspaceID string
	Name        string
	Config      nodes.Config // normalised; secret fields in plain text
	Env         Env
}

// Env is the runtime a connector may use. Nothing in it comes from a
// connector's config: it is the operator's and the process's.
type Env struct {
	// Net guards every connection to a user-configured host (SSRF).
	Net *netguard.Guard
	// TLS is the base TLS configuration (RootCAs for tests and private
	// CAs); nil means the system defaults.
	TLS *tls.Config
	// PublicURL is Waymark's public base URL (status callbacks).
	PublicURL string
	// Suppress adds an address to the workspace's suppression list (hard
	// bounce, STOP reply). Nil means no suppressions are recorded.
	Suppress func(ctx context.Context, channel, address, reason string) error
	Now      func() time.Time
	Logger   *slog.Logger
	// HTTPTimeout bounds one provider request; 0 means 15s.
	HTTPTimeout time.Duration
}

// Timeout returns the HTTP timeout.
func (e Env) Timeout() time.Duration {
	if e.HTTPTimeout > 0 {
		return e.HTTPTimeout
	}
	return 15 * time.Second
}

// TLSConfig returns a copy of the base TLS configuration for serverName.
func (e Env) TLSConfig(serverName string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.TLS != nil {
		c = e.TLS.Clone()
	}
	if serverName != "" {
		c.ServerName = serverName
	}
	return c
}

// Clock returns the time.
func (e Env) Clock() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Log returns the logger (never nil).
func (e Env) Log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Instance is a built connector: it sends, and it can test its setup
// against the provider.
type Instance interface {
	Connector
	// Test checks the connection and credentials ("Check connection");
	// with to set, it also sends a test message there ("Send test"). The
	// result carries the provider's own answer; it never contains secrets.
	Test(ctx context.Context, to string) TestResult
}

// Idempotent is implemented by connectors that say whether sending the
// same message (same idempotency key) twice can reach the recipient twice.
// The engine re-sends a step whose previous attempt crashed mid-send only
// when IdempotentSends is true; every built-in connector implements it.
type Idempotent interface {
	IdempotentSends() bool
}

// Describe is a failure as a test result shows it: the classified reason
// (the provider's answer), without the class prefix or wrapped detail.
func Describe(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return err.Error()
}

// TestResult is the outcome of a test, shown to the admin as it is.
type TestResult struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// CallbackRequest is a provider's status callback as received.
type CallbackRequest struct {
	URL    string // the full public URL the provider called (signatures cover it)
	Header map[string]string
	Form   url.Values
	Body   []byte
}

// StatusUpdate is what a callback says about one delivery.
type StatusUpdate struct {
	ProviderID string
	Status     string // delivered or failed
	Error      string
	// Suppress, when set, adds the recipient to the suppression list
	// (e.g. Twilio 21610: the recipient replied STOP).
	Suppress *Suppression
}

// Suppression is an address to stop messaging.
type Suppression struct {
	Channel, Address, Reason string
}

// FieldProblem is an error a constructor returns for a config value it
// cannot use (a URL the SSRF guard refuses, a malformed key): the service
// reports it against the field, like a validation error.
type FieldProblem struct {
	Field   string
	Message string
}

func (e *FieldProblem) Error() string { return e.Field + ": " + e.Message }

// ErrBadSignature means a callback's signature did not verify.
var ErrBadSignature = errors.New("callback signature does not verify")

// CallbackHandler is implemented by connectors whose provider reports
// delivery status back to Waymark (/callbacks/{type}/{connector id}).
type CallbackHandler interface {
	HandleCallback(ctx context.Context, req CallbackRequest) ([]StatusUpdate, error)
}

// Member is one profile in an audience sync.
type Member struct {
	ProfileID string
	Email     string
	Phone     string // E.164
	Consent   map[string]any
}

// SyncResult sums up an audience sync.
type SyncResult struct {
	Uploaded int    `json:"uploaded"` // members sent to the platform
	Skipped  int    `json:"skipped"`  // no consent or no usable identifier
	Invalid  int    `json:"invalid"`  // rejected by the platform
	Requests int    `json:"requests"` // API requests made
	Detail   string `json:"detail"`
}

// AudienceSyncer is implemented by audience connectors: bulk membership
// changes, batched to each platform's limits. op is audience_add or
// audience_remove.
type AudienceSyncer interface {
	SyncAudience(ctx context.Context, op string, members []Member) (SyncResult, error)
}

// Registry holds the connector types a deployment knows. Build it at
// start-up (see connectors/builtin); it is safe for concurrent reads.
type Registry struct {
	mu    sync.RWMutex
	kinds *nodes.Registry // the node kinds types may serve
	types map[string]Type
	order []string
}

// NewRegistry returns an empty registry whose types may serve the built-in
// node kinds (nodes/builtin).
func NewRegistry() *Registry {
	kinds := nodes.NewRegistry()
	if err := nodebuiltin.Register(kinds); err != nil {
		panic(err) // the built-in kinds are checked by their tests
	}
	return NewRegistryFor(kinds)
}

// NewRegistryFor returns an empty registry whose types may serve the
// acting kinds of kinds (a deployment or test with kinds of its own).
func NewRegistryFor(kinds *nodes.Registry) *Registry {
	return &Registry{kinds: kinds, types: map[string]Type{}}
}

var typeNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

var fieldTypesAllowed = map[nodes.FieldType]bool{
	nodes.String: true, nodes.Text: true, nodes.Integer: true, nodes.Number: true, nodes.Boolean: true, nodes.Enum: true,
}

// Register adds a type, adding the rate_limit field, after checking its
// spec (names, field types, defaults — with the node spec's own rules).
func (r *Registry) Register(t Type) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("registering connector type %q: %s", t.Name, fmt.Sprintf(format, args...))
	}
	if !typeNameRE.MatchString(t.Name) {
		return fail("name must be snake_case, 1-32 characters")
	}
	if t.Title == "" || t.New == nil {
		return fail("title and constructor are required")
	}
	if len(t.Kinds) == 0 {
		return fail("serves no node kind")
	}
	for _, k := range t.Kinds {
		spec, ok := r.kinds.Lookup(k)
		if !ok || spec.Action == nil {
			return fail("unknown node kind %q (not an acting kind of the node registry)", k)
		}
		if t.Channel != "" && spec.Action.Channel != t.Channel {
			return fail("node kind %q speaks on channel %q, not %q", k, spec.Action.Channel, t.Channel)
		}
	}
	if t.RateLimit.PerSecond <= 0 || t.RateLimit.Burst <= 0 {
		return fail("a default rate limit is required")
	}
	for _, f := range t.Fields {
		if !fieldTypesAllowed[f.Type] {
			return fail("field %q: type %q is not for connector config", f.Name, f.Type)
		}
		if f.Secret && f.Type != nodes.String && f.Type != nodes.Text {
			return fail("field %q: only text fields can be secret", f.Name)
		}
		if f.Secret && f.Default != nil {
			return fail("field %q: a secret has no default", f.Name)
		}
		if f.Name == FieldRateLimit {
			return fail("field %q is added to every type", f.Name)
		}
	}
	for _, d := range t.Destinations {
		if f, ok := t.Field(d.Field); !ok || f.Secret || (f.Type != nodes.String && f.Type != nodes.Text) {
			return fail("destination %q: not a text field of the type", d.Field)
		}
		if len(d.Secrets) == 0 {
			return fail("destination %q: names no secret field", d.Field)
		}
		for _, name := range d.Secrets {
			if f, ok := t.Field(name); !ok || !f.Secret {
				return fail("destination %q: %q is not a secret field", d.Field, name)
			}
		}
	}
	if !t.Builtin {
		t.Fields = append(slices.Clip(t.Fields), nodes.Field{
			Name: FieldRateLimit, Title: "Rate limit", Type: nodes.Number, Default: t.RateLimit.PerSecond,
			Min: nodes.Bound(0.001), Max: nodes.Bound(100000),
			Help: fmt.Sprintf("Messages per second through this connector, shared by all workers (default %g).", t.RateLimit.PerSecond),
		})
	}
	// Reuse the node spec's checks for names, titles, enums and defaults.
	check := nodes.NewRegistry()
	if err := check.Register(nodes.Spec{Kind: t.Name, Title: t.Title, Category: nodes.Action, Fields: t.Fields, Ports: []nodes.Port{{Name: "out"}}}); err != nil {
		return fmt.Errorf("registering connector type %q: %w", t.Name, errors.Unwrap(err))
	}
	if t.Example != nil {
		if _, errs := t.Normalize(t.Example); len(errs) > 0 {
			return fail("example: %s: %s", errs[0].Field, errs[0].Message)
		}
	}
	if t.Fields == nil {
		t.Fields = []nodes.Field{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[t.Name]; dup {
		return fail("already registered")
	}
	r.types[t.Name] = t
	r.order = append(r.order, t.Name)
	return nil
}

// MustRegister is Register that panics; for start-up code only.
func (r *Registry) MustRegister(t Type) {
	if err := r.Register(t); err != nil {
		panic(err)
	}
}

// Lookup returns a type by name.
func (r *Registry) Lookup(name string) (Type, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	return t, ok
}

// Types returns every type in registration order.
func (r *Registry) Types() []Type {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Type, len(r.order))
	for i, n := range r.order {
		out[i] = r.types[n]
	}
	return out
}

// Serves reports whether a connector of type typeName can carry a node kind.
func (r *Registry) Serves(typeName, kind string) bool {
	t, ok := r.Lookup(typeName)
	return ok && t.Serves(kind)
}
