package connectors

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// Store is the storage the service needs; *store.Store satisfies it.
type Store interface {
	CreateConnector(ctx context.Context, c store.Connector) (store.Connector, error)
	GetConnector(ctx context.Context, workspaceID, id string) (store.Connector, error)
	GetConnectorByID(ctx context.Context, id string) (store.Connector, error)
	GetConnectorByName(ctx context.Context, workspaceID, name string) (store.Connector, error)
	ListConnectors(ctx context.Context, workspaceID string) ([]store.Connector, error)
	ListAllConnectors(ctx context.Context) ([]store.Connector, error)
	UpdateConnector(ctx context.Context, c store.Connector) (store.Connector, error)
	SetConnectorEnabled(ctx context.Context, workspaceID, id string, enabled bool) (store.Connector, error)
	DeleteConnector(ctx context.Context, workspaceID, id string) error
	ReplaceConnectorSecrets(ctx context.Context, id string, old, updated map[string]store.SealedSecret) error
	ListSealedHookSecrets(ctx context.Context) ([]store.SealedHookSecret, error)
	ReplaceSealedHookSecret(ctx context.Context, id, old, updated string) error
	JourneysUsingConnector(ctx context.Context, workspaceID, name string) ([]store.ConnectorUse, error)
	ApplyDeliveryStatus(ctx context.Context, workspaceID, providerID, status, errText string) (bool, error)
	CountPendingDeliveries(ctx context.Context, workspaceID, connector string) (int64, error)
	AddSuppression(ctx context.Context, s store.Suppression) (store.Suppression, error)
}

// Limiter is a rate limiter shared by every worker (connectors/ratelimit).
type Limiter interface {
	Take(ctx context.Context, key string, perSecond float64, burst int) (time.Duration, error)
}

// LimiterStatus is implemented by limiters that can report a bucket's state.
type LimiterStatus interface {
	PeekStatus(ctx context.Context, key string, perSecond float64, burst int) (tokens float64, refused int64, err error)
}

// Options tune the service.
type Options struct {
	// Net guards connections to configured hosts; nil means the strict
	// default (public hosts only).
	Net *netguard.Guard
	// TLS is the base TLS configuration for providers (private CAs).
	TLS *tls.Config
	// PublicURL is Waymark's public base URL, for unsubscribe links and
	// provider callbacks.
	PublicURL string
	// Limiter enforces per-connector rate limits; nil disables them.
	Limiter Limiter
	// CacheTTL is how long Resolve trusts a connector it loaded before
	// looking at the row again (edits made by another process show up
	// within it; edits made through this service at once). Default 5s.
	CacheTTL    time.Duration
	HTTPTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service manages connectors: admin CRUD with secrets sealed at rest,
// tests, the engine's Resolver (cached, rate limited), provider
// callbacks, unsubscribe tokens and key rotation.
type Service struct {
	st    Store
	keys  *secrets.Keyring
	reg   *Registry
	opts  Options
	unsub *secrets.Tokens

	mu    sync.Mutex
	cache map[cacheKey]*cached
}

type cacheKey struct{ ws, name string }

type cached struct {
	id          string
	typ         Type
	fingerprint string
	inst        Instance
	rate        Rate
	enabled     bool
	loadedAt    time.Time
}

// NewService returns a service. keys seals and opens secrets; reg knows
// the connector types.
func NewService(st Store, keys *secrets.Keyring, reg *Registry, opts Options) (*Service, error) {
	if opts.Net == nil {
		opts.Net = netguard.MustNew()
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	if _, ok := reg.Lookup(SandboxName); !ok {
		return nil, errors.New("the connector registry has no sandbox type (register connectors/builtin)")
	}
	unsub, err := keys.Tokens("unsubscribe v1")
	if err != nil {
		return nil, err
	}
	return &Service{st: st, keys: keys, reg: reg, opts: opts, unsub: unsub, cache: map[cacheKey]*cached{}}, nil
}

// SandboxName is the built-in test inbox connector's name, id and type.
const SandboxName = "sandbox"

// Registry returns the connector types.
func (s *Service) Registry() *Registry { return s.reg }

// View is a connector as admins see it: secrets never leave the service,
// only which secret fields are set.
type View struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Builtin    bool           `json:"builtin,omitempty"`
	Enabled    bool           `json:"enabled"`
	Config     map[string]any `json:"config"`
	SecretsSet []string       `json:"secrets_set"`
	RateLimit  Rate           `json:"rate_limit"`
	Kinds      []string       `json:"kinds"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// Input creates a connector.
type Input struct {
	Type    string
	Name    string
	Config  map[string]any
	Enabled *bool // default true
}

// Patch changes a connector. Secret fields that are absent or empty keep
// their stored value; a secret set to nil is cleared. A change of where the
// connector talks (a Destination of its type) must give the secrets that
// go there again.
type Patch struct {
	Name *string
	// Config values to set; nil values remove a field.
	Config map[string]any
	// ReplaceConfig drops non-secret fields absent from Config (a form
	// submits every field); otherwise Config is merged (API PATCH).
	ReplaceConfig bool
	Enabled       *bool
}

// ValidationError lists what is wrong with a connector's name or config.
// Field is "name", "type" or a config field's name.
type ValidationError struct {
	Problems []nodes.FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid connector: " + strings.Join(parts, "; ")
}

// InUseError refuses to delete (or rename) a connector that published
// journeys name.
type InUseError struct {
	Name     string
	Journeys []store.ConnectorUse
}

func (e *InUseError) Error() string {
	names := make([]string, len(e.Journeys))
	for i, j := range e.Journeys {
		names[i] = fmt.Sprintf("%q", j.Name)
	}
	return fmt.Sprintf("connector %q is used by published journeys: %s", e.Name, strings.Join(names, ", "))
}

// ErrBuiltin refuses changes to the built-in sandbox connector.
var ErrBuiltin = errors.New("the sandbox connector is built in: it cannot be created, changed or deleted")

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func checkName(name string) *nodes.FieldError {
	switch {
	case name == "":
		return &nodes.FieldError{Field: "name", Message: "required"}
	case name == SandboxName:
		return &nodes.FieldError{Field: "name", Message: `"sandbox" is the built-in test inbox; choose another name`}
	case !nameRE.MatchString(name):
		return &nodes.FieldError{Field: "name", Message: "use 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"}
	}
	return nil
}

func (s *Service) sandboxView() View {
	t, _ := s.reg.Lookup(SandboxName)
	return View{ID: SandboxName, Name: SandboxName, Type: SandboxName, Builtin: true, Enabled: true, Config: map[string]any{},
		SecretsSet: []string{}, RateLimit: t.RateLimit, Kinds: t.Kinds}
}

func (s *Service) view(c store.Connector) View {
	v := View{ID: c.ID, Name: c.Name, Type: c.Type, Enabled: c.Enabled, Config: maps.Clone(c.Config), SecretsSet: slices.Sorted(maps.Keys(c.Secrets)),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if v.Config == nil {
		v.Config = map[string]any{}
	}
	if v.SecretsSet == nil {
		v.SecretsSet = []string{} // a type without secrets: [], as the API promises, never null
	}
	if t, ok := s.reg.Lookup(c.Type); ok {
		v.Kinds = t.Kinds
		v.RateLimit = t.RateLimit
		if r, ok := c.Config[FieldRateLimit].(float64); ok && r > 0 {
			v.RateLimit = RateFor(r)
		}
	}
	return v
}

// List returns a workspace's connectors, the sandbox first.
func (s *Service) List(ctx context.Context, workspaceID string) ([]View, error) {
	rows, err := s.st.ListConnectors(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	out := []View{s.sandboxView()}
	for _, c := range rows {
		out = append(out, s.view(c))
	}
	return out, nil
}

// Get returns a connector by id ("sandbox" is the built-in one).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (View, error) {
	if id == SandboxName {
		return s.sandboxView(), nil
	}
	c, err := s.st.GetConnector(ctx, workspaceID, id)
	if err != nil {
		return View{}, err
	}
	return s.view(c), nil
}

// Create validates and stores a new connector, sealing its secrets.
func (s *Service) Create(ctx context.Context, workspaceID string, in Input) (View, error) {
	t, ok := s.reg.Lookup(in.Type)
	if !ok {
		return View{}, &ValidationError{Problems: []nodes.FieldError{{Field: "type", Message: fmt.Sprintf("unknown connector type %q (see GET /api/v1/connector-types)", clip(in.Type, 64))}}}
	}
	if t.Builtin {
		return View{}, ErrBuiltin
	}
	var problems []nodes.FieldError
	if p := checkName(in.Name); p != nil {
		problems = append(problems, *p)
	}
	cfg, errs := t.Normalize(in.Config)
	problems = append(problems, errs...)
	if len(problems) > 0 {
		return View{}, &ValidationError{Problems: problems}
	}
	id := store.NewID()
	if err := s.tryBuild(t, id, workspaceID, in.Name, cfg); err != nil {
		return View{}, err
	}
	plain, sealed, err := s.split(t, id, cfg)
	if err != nil {
		return View{}, err
	}
	enabled := in.Enabled == nil || *in.Enabled
	c, err := s.st.CreateConnector(ctx, store.Connector{ID: id, WorkspaceID: workspaceID, Name: in.Name, Type: t.Name, Config: plain, Secrets: sealed, Enabled: enabled})
	if err != nil {
		return View{}, err
	}
	return s.view(c), nil
}

// tryBuild constructs the connector to catch what only the constructor
// can see (e.g. a base URL the SSRF guard refuses).
func (s *Service) tryBuild(t Type, id, workspaceID, name string, cfg nodes.Config) error {
	_, err := t.New(Setup{ID: id, WorkspaceID: workspaceID, Name: name, Config: cfg, Env: s.env(workspaceID, name)})
	var fp *FieldProblem
	if errors.As(err, &fp) {
		return &ValidationError{Problems: []nodes.FieldError{{Field: fp.Field, Message: fp.Message}}}
	}
	if err != nil {
		return &ValidationError{Problems: []nodes.FieldError{{Field: "config", Message: err.Error()}}}
	}
	return nil
}

// split separates a normalised config into JSON-ready plain fields and
// sealed secrets.
func (s *Service) split(t Type, id string, cfg nodes.Config) (map[string]any, map[string]store.SealedSecret, error) {
	plain := map[string]any{}
	sealed := map[string]store.SealedSecret{}
	for _, f := range t.Fields {
		v, ok := cfg[f.Name]
		if !ok {
			continue
		}
		if f.Secret {
			str, _ := v.(string)
			if str == "" {
				continue
			}
			sv, err := s.keys.Seal([]byte(str), secrets.ConnectorAD(id, f.Name))
			if err != nil {
				return nil, nil, fmt.Errorf("sealing %s: %w", f.Name, err)
			}
			sealed[f.Name] = store.SealedSecret{KeyID: sv.KeyID, Ciphertext: sv.Ciphertext}
			continue
		}
		plain[f.Name] = jsonValue(v)
	}
	return plain, sealed, nil
}

// jsonValue turns a normalised value into its JSON form.
func jsonValue(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case time.Duration:
		return nodes.FormatDuration(x)
	}
	return v
}

// open returns a stored connector's full config, secrets opened.
func (s *Service) open(c store.Connector) (map[string]any, error) {
	out := maps.Clone(c.Config)
	if out == nil {
		out = map[string]any{}
	}
	for name, sv := range c.Secrets {
		pt, err := s.keys.Open(secrets.Sealed{KeyID: sv.KeyID, Ciphertext: sv.Ciphertext}, secrets.ConnectorAD(c.ID, name))
		if err != nil {
			return nil, fmt.Errorf("opening secret %q of connector %q: %w", name, c.Name, err)
		}
		out[name] = string(pt)
	}
	return out, nil
}

// Update changes a connector. It returns the view and the names of the
// fields that changed ("name", "enabled", config fields; secret fields are
// named when a new value was given, never shown).
func (s *Service) Update(ctx context.Context, workspaceID, id string, p Patch) (View, []string, error) {
	if id == SandboxName {
		return View{}, nil, ErrBuiltin
	}
	c, err := s.st.GetConnector(ctx, workspaceID, id)
	if err != nil {
		return View{}, nil, err
	}
	t, ok := s.reg.Lookup(c.Type)
	if !ok {
		return View{}, nil, fmt.Errorf("connector %q has unknown type %q", c.Name, c.Type)
	}
	current, err := s.open(c)
	if err != nil {
		return View{}, nil, err
	}
	merged := map[string]any{}
	for _, f := range t.Fields {
		if v, ok := current[f.Name]; ok && (f.Secret || !p.ReplaceConfig) {
			merged[f.Name] = v
		}
	}
	var changed []string
	given := map[string]bool{} // secrets given a value in this update
	for k, v := range p.Config {
		f, known := t.Field(k)
		if known && f.Secret {
			if v == nil {
				if _, had := merged[k]; had {
					delete(merged, k)
					changed = append(changed, k)
				}
				continue
			}
			str, isStr := v.(string)
			if isStr && str == "" {
				continue // write-only: blank keeps the stored value
			}
			if cur, _ := merged[k].(string); !isStr || cur != str {
				changed = append(changed, k)
			}
			merged[k] = v
			given[k] = true
			continue
		}
		if v == nil {
			delete(merged, k)
			continue
		}
		merged[k] = v
	}
	var problems []nodes.FieldError
	name := c.Name
	if p.Name != nil && *p.Name != c.Name {
		name = *p.Name
		if pe := checkName(name); pe != nil {
			problems = append(problems, *pe)
		}
	}
	cfg, errs := t.Normalize(merged)
	problems = append(problems, errs...)
	if len(errs) == 0 {
		problems = append(problems, retargeted(t, c, cfg, given)...)
	}
	if len(problems) > 0 {
		return View{}, nil, &ValidationError{Problems: problems}
	}
	if name != c.Name {
		uses, err := s.st.JourneysUsingConnector(ctx, workspaceID, c.Name)
		if err != nil {
			return View{}, nil, err
		}
		if len(uses) > 0 {
			return View{}, nil, &InUseError{Name: c.Name, Journeys: uses}
		}
		changed = append(changed, "name")
	}
	if err := s.tryBuild(t, c.ID, workspaceID, name, cfg); err != nil {
		return View{}, nil, err
	}
	plain, sealed, err := s.split(t, c.ID, cfg)
	if err != nil {
		return View{}, nil, err
	}
	// Unchanged secrets keep their sealed value (and key id).
	for k, sv := range c.Secrets {
		if _, still := sealed[k]; still && !slices.Contains(changed, k) {
			sealed[k] = sv
		}
	}
	for k := range plain {
		if !equalJSON(plain[k], c.Config[k]) {
			changed = append(changed, k)
		}
	}
	for k := range c.Config {
		if _, still := plain[k]; !still {
			changed = append(changed, k)
		}
	}
	enabled := c.Enabled
	if p.Enabled != nil && *p.Enabled != c.Enabled {
		enabled = *p.Enabled
		changed = append(changed, "enabled")
	}
	up, err := s.st.UpdateConnector(ctx, store.Connector{ID: c.ID, WorkspaceID: workspaceID, Name: name, Type: c.Type, Config: plain, Secrets: sealed, Enabled: enabled})
	if err != nil {
		return View{}, nil, err
	}
	s.invalidate(workspaceID)
	sort.Strings(changed)
	return s.view(up), slices.Compact(changed), nil
}

// retargeted returns a problem for each stored secret that an update would
// send to a changed destination (see Destination) without being given
// again: the secret must be entered anew, or the destination kept.
func retargeted(t Type, c store.Connector, cfg nodes.Config, given map[string]bool) []nodes.FieldError {
	moved := map[string][]string{} // secret -> changed destinations that carry it
	for _, d := range t.Destinations {
		f, _ := t.Field(d.Field)
		before, ok := c.Config[d.Field]
		if !ok && f.Default != nil {
			before = jsonValue(f.Default)
		}
		var after any
		if v, ok := cfg[d.Field]; ok {
			after = jsonValue(v)
		}
		if equalJSON(before, after) {
			continue
		}
		for _, name := range d.Secrets {
			if _, kept := cfg[name]; kept && !given[name] {
				moved[name] = append(moved[name], fmt.Sprintf("%s (%s)", f.Title, f.Name))
			}
		}
	}
	var out []nodes.FieldError
	for _, f := range t.Fields {
		if dests := moved[f.Name]; len(dests) > 0 {
			verb := "changes"
			if len(dests) > 1 {
				verb = "change"
			}
			out = append(out, nodes.FieldError{Field: f.Name, Message: fmt.Sprintf(
				"enter it again: %s %s, and a stored secret is never sent to a new destination", strings.Join(dests, " and "), verb)})
		}
	}
	return out
}

func equalJSON(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return string(ab) == string(bb)
}

// SetEnabled enables or disables a connector. A disabled connector sends
// nothing: the engine's sends through it wait and retry.
func (s *Service) SetEnabled(ctx context.Context, workspaceID, id string, enabled bool) (View, error) {
	if id == SandboxName {
		return View{}, ErrBuiltin
	}
	c, err := s.st.SetConnectorEnabled(ctx, workspaceID, id, enabled)
	if err != nil {
		return View{}, err
	}
	s.invalidate(workspaceID)
	return s.view(c), nil
}

// Delete removes a connector unless a published (live or paused) journey
// names it: then it is an *InUseError listing them.
func (s *Service) Delete(ctx context.Context, workspaceID, id string) (View, error) {
	if id == SandboxName {
		return View{}, ErrBuiltin
	}
	c, err := s.st.GetConnector(ctx, workspaceID, id)
	if err != nil {
		return View{}, err
	}
	uses, err := s.st.JourneysUsingConnector(ctx, workspaceID, c.Name)
	if err != nil {
		return View{}, err
	}
	if len(uses) > 0 {
		return View{}, &InUseError{Name: c.Name, Journeys: uses}
	}
	if err := s.st.DeleteConnector(ctx, workspaceID, id); err != nil {
		return View{}, err
	}
	s.invalidate(workspaceID)
	return s.view(c), nil
}

// Test builds the connector from its stored config and tests it: with to
// empty it checks the connection, otherwise it sends a test message. The
// provider's answer is in the result; err is for storage failures only.
func (s *Service) Test(ctx context.Context, workspaceID, id, to string) (TestResult, error) {
	var inst Instance
	var err error
	if id == SandboxName {
		inst, err = s.sandbox(workspaceID)
	} else {
		var c store.Connector
		if c, err = s.st.GetConnector(ctx, workspaceID, id); err != nil {
			return TestResult{}, err
		}
		if inst, _, _, err = s.build(c); err != nil {
			return TestResult{OK: false, Detail: "cannot build the connector: " + err.Error()}, nil
		}
	}
	if err != nil {
		return TestResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.env(workspaceID, "").Timeout()+5*time.Second)
	defer cancel()
	return inst.Test(ctx, strings.TrimSpace(to)), nil
}

// env is the runtime a connector of this workspace gets.
func (s *Service) env(workspaceID, source string) Env {
	return Env{
		Net: s.opts.Net, TLS: s.opts.TLS, PublicURL: s.opts.PublicURL, Now: s.opts.Now, Logger: s.opts.Logger,
		HTTPTimeout: s.opts.HTTPTimeout,
		Suppress: func(ctx context.Context, channel, address, reason string) error {
			_, err := s.st.AddSuppression(ctx, store.Suppression{WorkspaceID: workspaceID, Channel: channel, Address: address, Reason: reason, Source: source})
			return err
		},
	}
}

func (s *Service) sandbox(workspaceID string) (Instance, error) {
	t, _ := s.reg.Lookup(SandboxName)
	return t.New(Setup{ID: SandboxName, WorkspaceID: workspaceID, Name: SandboxName, Config: nodes.Config{}, Env: s.env(workspaceID, SandboxName)})
}

// build opens a stored connector's secrets, validates its config and
// constructs it.
func (s *Service) build(c store.Connector) (Instance, Type, nodes.Config, error) {
	t, ok := s.reg.Lookup(c.Type)
	if !ok || t.Builtin {
		return nil, Type{}, nil, fmt.Errorf("unknown connector type %q", c.Type)
	}
	raw, err := s.open(c)
	if err != nil {
		return nil, Type{}, nil, err
	}
	cfg, errs := t.Normalize(raw)
	if len(errs) > 0 {
		return nil, Type{}, nil, &ValidationError{Problems: errs}
	}
	inst, err := t.New(Setup{ID: c.ID, WorkspaceID: c.WorkspaceID, Name: c.Name, Config: cfg, Env: s.env(c.WorkspaceID, c.Name)})
	if err != nil {
		return nil, Type{}, nil, err
	}
	return inst, t, cfg, nil
}

func fingerprint(c store.Connector) string {
	h := sha256.New()
	cb, _ := json.Marshal(c.Config)
	sb, _ := json.Marshal(c.Secrets)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s", c.ID, c.Name, c.Type, cb, sb)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Service) invalidate(workspaceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.cache {
		if k.ws == workspaceID {
			delete(s.cache, k)
		}
	}
}

// ErrDisabled is the cause of Resolve's error for a disabled connector.
var ErrDisabled = errors.New("connector disabled")

// Resolve returns the connector a journey names, ready to send: built
// from its row (secrets opened), cached while the row is unchanged, and
// rate limited by the connector's shared token bucket. The engine calls it
// for each send; its errors are classified like Send's.
func (s *Service) Resolve(ctx context.Context, workspaceID, name string) (Connector, error) {
	if name == SandboxName {
		return s.sandbox(workspaceID)
	}
	e, err := s.load(ctx, workspaceID, name)
	if err != nil {
		return nil, err
	}
	if !e.enabled {
		// Transient for the engine: sends wait until it is enabled again.
		return nil, TransientError(fmt.Sprintf("connector %q is disabled", name), time.Minute, ErrDisabled)
	}
	return &limited{inst: e.inst, id: e.id, rate: e.rate, lim: s.opts.Limiter}, nil
}

func (s *Service) load(ctx context.Context, workspaceID, name string) (*cached, error) {
	key := cacheKey{workspaceID, name}
	now := s.opts.Now()
	s.mu.Lock()
	e := s.cache[key]
	s.mu.Unlock()
	if e != nil && now.Sub(e.loadedAt) < s.opts.CacheTTL {
		return e, nil
	}
	c, err := s.st.GetConnectorByName(ctx, workspaceID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, PermanentError(fmt.Sprintf("no connector named %q", name), err)
	}
	if err != nil {
		return nil, TransientError("loading connector", 0, err)
	}
	fp := fingerprint(c)
	if e != nil && e.fingerprint == fp {
		fresh := *e
		fresh.enabled, fresh.loadedAt = c.Enabled, now
		s.mu.Lock()
		s.cache[key] = &fresh
		s.mu.Unlock()
		return &fresh, nil
	}
	inst, t, cfg, err := s.build(c)
	if err != nil {
		s.opts.Logger.Error("cannot build connector", slog.String("workspace_id", workspaceID), slog.String("connector", name), slog.String("error", err.Error()))
		return nil, TransientError(fmt.Sprintf("connector %q cannot be built (see the server log)", name), time.Minute, err)
	}
	e = &cached{id: c.ID, typ: t, fingerprint: fp, inst: inst, rate: t.RateOf(cfg), enabled: c.Enabled, loadedAt: now}
	s.mu.Lock()
	s.cache[key] = e
	s.mu.Unlock()
	return e, nil
}

// limited takes a token from the connector's bucket before each send.
type limited struct {
	inst Instance
	id   string
	rate Rate
	lim  Limiter
}

func (l *limited) Send(ctx context.Context, m Message) (Result, error) {
	if l.lim != nil {
		wait, err := l.lim.Take(ctx, "connector:"+l.id, l.rate.PerSecond, l.rate.Burst)
		if err != nil {
			return Result{}, TransientError("rate limiter unavailable", 0, err)
		}
		if wait > 0 {
			return Result{}, TransientError("rate limited", wait, nil)
		}
	}
	return l.inst.Send(ctx, m)
}

// IdempotentSends passes through the connector's answer (the engine asks
// it before re-sending a step whose previous attempt crashed).
func (l *limited) IdempotentSends() bool {
	is, ok := l.inst.(interface{ IdempotentSends() bool })
	return ok && is.IdempotentSends()
}

// SyncAudience passes through to audience connectors (rate limited per request).
func (l *limited) SyncAudience(ctx context.Context, op string, members []Member) (SyncResult, error) {
	as, ok := l.inst.(AudienceSyncer)
	if !ok {
		return SyncResult{}, PermanentError("this connector does not sync audiences", nil)
	}
	return as.SyncAudience(ctx, op, members)
}

// Backlog is a connector's back-pressure, for the admin page.
type Backlog struct {
	Rate          Rate          `json:"rate_limit"`
	Pending       int64         `json:"pending"`        // deliveries waiting to go out
	ExpectedDelay time.Duration `json:"expected_delay"` // pending / rate
	Tokens        float64       `json:"tokens"`         // sends available right now
	Throttled     int64         `json:"throttled"`      // sends held back by the limit in the last minute
	LimiterKnown  bool          `json:"limiter_known"`
}

// Backlog reports a connector's queue depth and rate-limit state.
func (s *Service) Backlog(ctx context.Context, workspaceID, id string) (Backlog, error) {
	v, err := s.Get(ctx, workspaceID, id)
	if err != nil {
		return Backlog{}, err
	}
	n, err := s.st.CountPendingDeliveries(ctx, workspaceID, v.Name)
	if err != nil {
		return Backlog{}, err
	}
	b := Backlog{Rate: v.RateLimit, Pending: n}
	if !v.Builtin && v.RateLimit.PerSecond > 0 {
		b.ExpectedDelay = time.Duration(math.Ceil(float64(n)/v.RateLimit.PerSecond)) * time.Second
	}
	if ls, ok := s.opts.Limiter.(LimiterStatus); ok && !v.Builtin {
		tokens, refused, err := ls.PeekStatus(ctx, "connector:"+v.ID, v.RateLimit.PerSecond, v.RateLimit.Burst)
		if err == nil {
			b.Tokens, b.Throttled, b.LimiterKnown = tokens, refused, true
		}
	}
	return b, nil
}

// Callback handles a provider's status callback for connector id:
// verifies it, then records each status on its delivery and any
// suppression it implies. path is the request path and query as received;
// the URL the provider signed is PublicURL + path. An unknown connector,
// or one that takes no callbacks, is store.ErrNotFound; a bad signature is
// ErrBadSignature.
func (s *Service) Callback(ctx context.Context, typeName, id, path string, req CallbackRequest) error {
	c, err := s.st.GetConnectorByID(ctx, id)
	if err != nil {
		return err
	}
	if c.Type != typeName {
		return fmt.Errorf("connector %s is not a %s connector: %w", id, typeName, store.ErrNotFound)
	}
	inst, _, _, err := s.build(c)
	if err != nil {
		return err
	}
	h, ok := inst.(CallbackHandler)
	if !ok {
		return fmt.Errorf("connector type %s takes no callbacks: %w", c.Type, store.ErrNotFound)
	}
	req.URL = s.opts.PublicURL + path
	updates, err := h.HandleCallback(ctx, req)
	if err != nil {
		return err
	}
	for _, u := range updates {
		if u.Status != "" {
			if _, err := s.st.ApplyDeliveryStatus(ctx, c.WorkspaceID, u.ProviderID, u.Status, u.Error); err != nil {
				return err
			}
		}
		if u.Suppress != nil {
			if _, err := s.st.AddSuppression(ctx, store.Suppression{WorkspaceID: c.WorkspaceID, Channel: u.Suppress.Channel,
				Address: u.Suppress.Address, Reason: u.Suppress.Reason, Source: c.Name}); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnsubscribeTarget is what an unsubscribe token names.
type UnsubscribeTarget struct {
	WorkspaceID string
	Channel     string
	Address     string
}

// UnsubscribeToken returns a token for /u/{token} naming the address.
func (s *Service) UnsubscribeToken(workspaceID, channel, address string) string {
	return s.unsub.Seal([]byte(workspaceID + "\x00" + channel + "\x00" + store.NormalizeAddress(channel, address)))
}

// UnsubscribeURL returns the one-click unsubscribe link for an address:
// what the engine puts in Message.UnsubscribeURL for marketing email.
func (s *Service) UnsubscribeURL(workspaceID, channel, address string) string {
	return s.opts.PublicURL + "/u/" + s.UnsubscribeToken(workspaceID, channel, address)
}

// ParseUnsubscribe opens a token; a bad one is secrets.ErrBadToken.
func (s *Service) ParseUnsubscribe(token string) (UnsubscribeTarget, error) {
	b, err := s.unsub.Open(token)
	if err != nil {
		return UnsubscribeTarget{}, err
	}
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 || parts[2] == "" {
		return UnsubscribeTarget{}, secrets.ErrBadToken
	}
	return UnsubscribeTarget{WorkspaceID: parts[0], Channel: parts[1], Address: parts[2]}, nil
}

// Unsubscribe adds the token's address to the suppression list.
func (s *Service) Unsubscribe(ctx context.Context, token string) (UnsubscribeTarget, error) {
	t, err := s.ParseUnsubscribe(token)
	if err != nil {
		return t, err
	}
	_, err = s.st.AddSuppression(ctx, store.Suppression{WorkspaceID: t.WorkspaceID, Channel: t.Channel, Address: t.Address,
		Reason: store.ReasonUnsubscribed, Source: "unsubscribe_link"})
	return t, err
}

// EraseFromAudiences removes a profile from every enabled audience
// connector of the workspace (right to erasure). It tries them all and
// returns the failures joined.
func (s *Service) EraseFromAudiences(ctx context.Context, workspaceID string, m Member) error {
	rows, err := s.st.ListConnectors(ctx, workspaceID)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range rows {
		t, ok := s.reg.Lookup(c.Type)
		if !ok || !c.Enabled || !t.Serves(KindAudienceRemove) {
			continue
		}
		inst, _, _, err := s.build(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %q: %w", c.Name, err))
			continue
		}
		as, ok := inst.(AudienceSyncer)
		if !ok {
			continue
		}
		if _, err := as.SyncAudience(ctx, KindAudienceRemove, []Member{m}); err != nil {
			errs = append(errs, fmt.Errorf("connector %q: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CheckKeys opens every sealed value in the database with the configured
// keys: connector secrets and journey webhook signing secrets. Call it at
// start: a missing or wrong WAYMARK_SECRET_KEY fails loudly there, naming
// the connector or journey and the key ids, rather than at the first send
// or webhook.
func (s *Service) CheckKeys(ctx context.Context) error {
	if _, err := RotateSecrets(ctx, s.st, s.keys, true); err != nil {
		if errors.Is(err, secrets.ErrWrongKey) {
			return fmt.Errorf("secret key check failed (is WAYMARK_SECRET_KEY the key these secrets were sealed with? "+
				"after a key change, keep the previous key in WAYMARK_SECRET_KEY_OLD and run 'waymark secrets rotate'): %w", err)
		}
		return err
	}
	return nil
}

// KeyStore holds every value sealed with the secret key: connector secrets
// and journey webhook signing secrets. *store.Store satisfies it.
type KeyStore interface {
	ListAllConnectors(ctx context.Context) ([]store.Connector, error)
	ReplaceConnectorSecrets(ctx context.Context, id string, old, updated map[string]store.SealedSecret) error
	ListSealedHookSecrets(ctx context.Context) ([]store.SealedHookSecret, error)
	ReplaceSealedHookSecret(ctx context.Context, id, old, updated string) error
}

// RotateReport sums up a rotation (or, dry, a check).
type RotateReport struct {
	Connectors int // connectors looked at
	Journeys   int // journeys whose webhook signing secrets were looked at
	Resealed   int // secret values sealed again with the current key
	Current    int // values already under the current key
}

// Values is the number of sealed values looked at.
func (r RotateReport) Values() int { return r.Resealed + r.Current }

// RotateSecrets seals every value sealed with an older key again with the
// current key (see the function RotateSecrets).
func (s *Service) RotateSecrets(ctx context.Context, dryRun bool) (RotateReport, error) {
	return RotateSecrets(ctx, s.st, s.keys, dryRun)
}

// RotateSecrets is the rotation without a service (the CLI has no registry
// or Redis to hand). It covers every sealed value: connector secrets and
// journey webhook signing secrets. It first opens them all: if one does not
// open with any configured key, it changes nothing and the error
// (secrets.ErrWrongKey) names the connector or journey and the key ids.
// Then each connector's secrets, and each hook secret, are sealed again in
// one compare-and-swap (an edit made meanwhile is never overwritten: it is
// store.ErrConflict, and running it again finishes the job). With dryRun
// it only counts: it is the key check.
func RotateSecrets(ctx context.Context, st KeyStore, keys *secrets.Keyring, dryRun bool) (RotateReport, error) {
	if !dryRun {
		if _, err := rotate(ctx, st, keys, true); err != nil {
			return RotateReport{}, err
		}
	}
	return rotate(ctx, st, keys, dryRun)
}

func rotate(ctx context.Context, st KeyStore, keys *secrets.Keyring, dryRun bool) (RotateReport, error) {
	rows, err := st.ListAllConnectors(ctx)
	if err != nil {
		return RotateReport{}, err
	}
	var rep RotateReport
	for _, c := range rows {
		rep.Connectors++
		updated := make(map[string]store.SealedSecret, len(c.Secrets))
		changed := false
		for _, name := range slices.Sorted(maps.Keys(c.Secrets)) {
			sv := c.Secrets[name]
			sealed := secrets.Sealed{KeyID: sv.KeyID, Ciphertext: sv.Ciphertext}
			ad := secrets.ConnectorAD(c.ID, name)
			pt, err := keys.Open(sealed, ad)
			if err != nil {
				return rep, fmt.Errorf("connector %q (%s) field %s: %w", c.Name, c.ID, name, err)
			}
			if !keys.NeedsReseal(sealed) {
				rep.Current++
				updated[name] = sv
				continue
			}
			ns, err := keys.Seal(pt, ad)
			if err != nil {
				return rep, err
			}
			updated[name] = store.SealedSecret{KeyID: ns.KeyID, Ciphertext: ns.Ciphertext}
			rep.Resealed++
			changed = true
		}
		if changed && !dryRun {
			if err := st.ReplaceConnectorSecrets(ctx, c.ID, c.Secrets, updated); err != nil {
				return rep, fmt.Errorf("connector %q: %w", c.Name, err)
			}
		}
	}

	hooks, err := st.ListSealedHookSecrets(ctx)
	if err != nil {
		return rep, err
	}
	for i, h := range hooks {
		if i == 0 || hooks[i-1].JourneyID != h.JourneyID {
			rep.Journeys++
		}
		what := fmt.Sprintf("journey %q (%s) webhook signing secret %s", h.JourneyName, h.JourneyID, h.ID)
		var sealed secrets.Sealed
		if err := json.Unmarshal([]byte(h.Sealed), &sealed); err != nil {
			return rep, fmt.Errorf("%s: %w: the stored value is malformed", what, secrets.ErrWrongKey)
		}
		ad := secrets.HookAD(h.JourneyID)
		pt, err := keys.Open(sealed, ad)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", what, err)
		}
		if !keys.NeedsReseal(sealed) {
			rep.Current++
			continue
		}
		rep.Resealed++
		if dryRun {
			continue
		}
		ns, err := keys.Seal(pt, ad)
		if err != nil {
			return rep, err
		}
		b, err := json.Marshal(ns)
		if err != nil {
			return rep, err
		}
		if err := st.ReplaceSealedHookSecret(ctx, h.ID, h.Sealed, string(b)); err != nil {
			return rep, fmt.Errorf("%s: %w", what, err)
		}
	}
	return rep, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
