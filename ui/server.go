// Package ui serves Waymark over HTTP: the server-rendered UI (templ +
// htmx), the JSON API under /api/v1, health and readiness probes. It uses
// storage only through the Store interface it declares.
package ui

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/api"
	"github.com/waymarkhq/waymark/ui/ingest"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/web"
	"github.com/waymarkhq/waymark/worker"
)

// Store is the storage the HTTP layer needs: what its audiences and the
// services it builds for them declare.
type Store interface {
	web.Store
	api.Store
	ingest.Store
	entry.Store
	httpkit.ExportStore
	journeys.ReportStore
	journeys.TestSendStore
	worker.LearningStore
	broadcasts.Store
	segments.Store
	worker.HistoryStore
}

// RunEngine is the execution engine as the HTTP layer uses it.
type RunEngine interface {
	Enter(ctx context.Context, req worker.EnterRequest) (store.Run, error)
	PrepareEntry(ctx context.Context, req worker.EnterRequest) (worker.Entry, error)
	Dispatch(ctx context.Context, en worker.Entry)
	HandleEvent(ctx context.Context, ev store.Event) (worker.EventResult, error)
	ResumeRuns(ctx context.Context, journeyID string) (int64, error)
	ExitRuns(ctx context.Context, journeyID, reason string) (int, error)
	CancelRun(ctx context.Context, workspaceID, runID, reason string) (store.Run, error)
	RetryRun(ctx context.Context, workspaceID, runID string) (store.Run, error)
	MoveRun(ctx context.Context, workspaceID, runID, nodeID, by string) (store.Run, error)
	TriggerNode(ctx context.Context, j store.Journey, kind string) (*flows.CompiledNode, error)
}

// HookService manages and verifies journeys' webhook triggers.
type HookService interface {
	Get(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	Rotate(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (hooks.Hook, error)
	Verify(ctx context.Context, key string, header func(string) string, body []byte) (store.Journey, hooks.Receipt, error)
	// The editor's trigger panel (web) and its "Listen for a test
	// request" (ingest keeps what arrives).
	Peek(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, bool, error)
	Listen(ctx context.Context, workspaceID, journeyID string) (since, until time.Time, err error)
	Samples(ctx context.Context, workspaceID, journeyID string, since time.Time, limit int) ([]store.HookSample, error)
	Capture(ctx context.Context, key string, o hooks.Outcome, body []byte) error
}

// ConnectorAdmin is what connector administration needs beyond storage:
// the connector registry, secret sealing, test calls, provider callbacks
// and unsubscribe tokens. *connectors.Service implements it.
type ConnectorAdmin interface {
	Registry() *connectors.Registry
	List(ctx context.Context, workspaceID string) ([]connectors.View, error)
	Get(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Create(ctx context.Context, workspaceID string, in connectors.Input) (connectors.View, error)
	Update(ctx context.Context, workspaceID, id string, p connectors.Patch) (connectors.View, []string, error)
	SetEnabled(ctx context.Context, workspaceID, id string, enabled bool) (connectors.View, error)
	Delete(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Test(ctx context.Context, workspaceID, id, to string) (connectors.TestResult, error)
	Backlog(ctx context.Context, workspaceID, id string) (connectors.Backlog, error)
	Callback(ctx context.Context, typeName, id, path string, req connectors.CallbackRequest) error
	ParseUnsubscribe(token string) (connectors.UnsubscribeTarget, error)
	Unsubscribe(ctx context.Context, token string) (connectors.UnsubscribeTarget, error)
}

// ProfileAdmin is profile import, export and erasure as the HTTP layer uses them.
type ProfileAdmin interface {
	Export(ctx context.Context, workspaceID, externalID string) (store.ProfileExport, error)
	Erase(ctx context.Context, workspaceID, externalID string, actor profiles.Actor) (profiles.ErasureResult, error)
	Stage(ctx context.Context, workspaceID, filename, actor string, data []byte) (store.ProfileImport, []string, [][]string, error)
	Start(ctx context.Context, workspaceID, id string, m profiles.Mapping) (store.ProfileImport, error)
	Get(ctx context.Context, workspaceID, id string) (store.ProfileImport, error)
	// Changed evaluates segment triggers for a profile just written.
	Changed(ctx context.Context, p store.Profile)
	// WithdrawAdConsent queues the removal from ad audiences that a consent
	// write calls for; it runs before the write.
	WithdrawAdConsent(ctx context.Context, workspaceID, externalID string, consent map[string]any) (bool, error)
}

// SimulationService runs journey simulations (internal/sim.Simulator).
type SimulationService = httpkit.Simulator

// TestSender sends a node's message as a test (a *worker.Engine).
type TestSender = journeys.TestSender

// QueueInspector is the Redis side of the operations page (an
// *asynq.Inspector).
type QueueInspector = web.QueueInspector

// Check is a named readiness probe (database, Redis…).
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Config tunes the HTTP layer.
type Config struct {
	Version            string
	BodyLimit          int           // bytes; default 1 MiB
	HeaderLimit        int           // bytes of request line + headers; default DefaultHeaderLimit (errors.go)
	RequestTimeout     time.Duration // deadline of each request's context; default DefaultRequestTimeout (middleware.go)
	CookieSecure       bool          // Secure + __Host- cookies (serve over HTTPS)
	TrustedOrigin      string        // scheme://host[:port] of the public base URL
	SessionIdleTimeout time.Duration // default 12h
	SessionMaxAge      time.Duration // default 7 days
	SetupToken         string        // one-time token for the first admin; "" disables /setup
	Now                func() time.Time
	// TestSendQuota bounds test sends per actor and per workspace
	// (journeys.TestSends); zero: store.DefaultTestSendQuota.
	TestSendQuota store.TestSendQuota
}

// Deps are the collaborators the server uses.
type Deps struct {
	Store      Store
	Journeys   *journeys.Service // journey documents: validate, save, publish
	Connectors ConnectorAdmin    // connector administration (web, api, ingest callbacks)
	Engine     RunEngine         // entries, events, run control (internal/entry, web, api)
	Profiles   ProfileAdmin      // profile import (web), export and erasure (api)
	Hooks      HookService       // webhook triggers (internal/entry, api, the editor's trigger panel)
	TestSends  TestSender        // test sends of action nodes (journeys.TestSends); nil: none
	Simulator  SimulationService // journey simulations (httpkit.Simulations); nil: none
	Tracking   ingest.Tracking   // email open pixel and click redirects (internal/engagement); nil: they answer 404
	Checks     []Check           // readiness probes
	// Queues is the Asynq inspector the operations page reads (an
	// *asynq.Inspector); nil: the page shows no queues or workers.
	Queues QueueInspector
	// Metrics is the Prometheus registry /metrics serves; the server adds
	// its HTTP latency histogram to it. nil: a registry of its own.
	Metrics *prometheus.Registry
	Logger  *slog.Logger
	// Passwords hashes and checks passwords with a process-wide cap on
	// how many run at once (web/auth_throttle.go). nil: auth.NewHasher with
	// the defaults.
	Passwords *auth.Hasher
}

// Server is Waymark's HTTP front end: one fiber app, its middleware, and
// the three audiences mounted on it (pages, the API, ingestion), each
// behind the permission table's guard.
type Server struct {
	app      *fiber.App
	cfg      Config
	checks   []Check
	logger   *slog.Logger
	metrics  *prometheus.Registry
	httpm    *httpkit.HTTPMetrics
	unmapped []string // routes registered without a permission entry

	journeys   *journeys.Service // the node kinds, for the OpenAPI document
	connectors ConnectorAdmin    // the connector types, for the OpenAPI document
	web        *web.Handler      // pages for people
	api        *api.Handler      // /api/v1 for programs
	ingest     *ingest.Handler   // POST /hooks, /callbacks, /api/v1/events and /profiles
}

// New builds the server: the services the audiences share, the
// audiences' handlers, and the routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.HeaderLimit <= 0 {
		cfg.HeaderLimit = DefaultHeaderLimit
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, checks: deps.Checks, logger: deps.Logger, metrics: deps.Metrics, httpm: httpkit.NewHTTPMetrics(deps.Metrics),
		journeys: deps.Journeys, connectors: deps.Connectors}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.logger = slog.New(LogHandler(s.logger.Handler()))

	// Services below the edge, built from the deps.
	testSends := journeys.NewTestSends(deps.Store, deps.Journeys, deps.TestSends, cfg.TestSendQuota)
	reports := journeys.NewReports(deps.Store, deps.Journeys)
	entries := entry.New(entry.Deps{Store: deps.Store, Hooks: deps.Hooks, Engine: deps.Engine, Profiles: deps.Profiles, Now: cfg.Now})
	exports := httpkit.Exports{Store: deps.Store, Logger: s.logger, Now: cfg.Now}
	bcasts := broadcasts.New(deps.Store, deps.Journeys, deps.Engine)
	simulations := httpkit.Simulations{Store: deps.Store, Journeys: deps.Journeys, Simulator: deps.Simulator}
	segs := segments.New(deps.Store, segments.Options{Now: cfg.Now, // saved segments (docs/segments.md)
		History: func(ctx context.Context, env *expression.Env, workspaceID, profileID string) {
			worker.AttachHistory(ctx, env, deps.Store, nil, workspaceID, profileID) // estimates of segments that read history
		}})

	var err error
	s.web, err = web.New(web.Config{Version: cfg.Version, CookieSecure: cfg.CookieSecure, TrustedOrigin: cfg.TrustedOrigin,
		SessionIdleTimeout: cfg.SessionIdleTimeout, SessionMaxAge: cfg.SessionMaxAge, SetupToken: cfg.SetupToken, Now: cfg.Now},
		web.Deps{Store: deps.Store, Journeys: deps.Journeys, Reports: reports, TestSends: testSends, Engine: deps.Engine,
			Connectors: deps.Connectors, Profiles: deps.Profiles, Learning: worker.NewLearning(deps.Store, worker.LearningConfig{Now: cfg.Now}),
			Queues: deps.Queues, Simulations: simulations, Exports: exports, Passwords: deps.Passwords, Logger: s.logger, Static: staticFS,
			Hooks: deps.Hooks, Broadcasts: bcasts, Segments: segs})
	if err != nil {
		return nil, err
	}
	s.api = api.New(api.Deps{Store: deps.Store, Journeys: deps.Journeys, Reports: reports, TestSends: testSends, Engine: deps.Engine,
		Connectors: deps.Connectors, Profiles: deps.Profiles, Hooks: deps.Hooks, Simulations: simulations, Exports: exports, Now: cfg.Now, Broadcasts: bcasts,
		Segments: segs})
	s.ingest = ingest.New(ingest.Deps{Entry: entries, Store: deps.Store, Callbacks: deps.Connectors, Samples: deps.Hooks, Tracking: deps.Tracking, Logger: s.logger, Now: cfg.Now})

	s.app = fiber.New(fiber.Config{
		AppName:               "waymark",
		BodyLimit:             cfg.BodyLimit,
		ReadBufferSize:        cfg.HeaderLimit,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Values from c.Params/c.FormValue outlive handlers in places (logs,
		// goroutines); immutable strings rule out buffer-reuse bugs.
		Immutable: true,
	})
	s.keepRequestLineOnErrors()
	s.routes()
	if len(s.unmapped) > 0 {
		return nil, fmt.Errorf("building routes: no entry in the permission table (ui/permissions.go) for %s", strings.Join(s.unmapped, ", "))
	}
	return s, nil
}

// App exposes the fiber app (for app.Test in tests and for Listen).
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

func (s *Server) routes() {
	// Compress wraps accessLog, which renders errors, so error pages are
	// compressed too; assets arrive precompressed and pass through.
	s.app.Use(s.httpm.Middleware, s.requestID, s.requestContext, httpkit.Compress, s.accessLog, recover.New(), s.securityHeaders)
	// Every route goes through a guardedRouter: it puts the route's entry
	// of the permission table (permissions.go) in front of its handlers.
	app := s.guarded(s.app, "")
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", httpkit.MetricsHandler(s.metrics))
	app.Get("/static/*", s.web.Static)
	s.ingest.Routes(app) // POST /hooks/:key, /callbacks/:type/:id
	app.Get("/api/v1/openapi.json", s.openapiJSON)

	api := app.Group("/api/v1", s.api.Auth)
	s.api.Routes(api)
	s.ingest.APIRoutes(api) // POST /events, /profiles
	api.Use(func(c *fiber.Ctx) error { return httpkit.NotFound("endpoint " + c.Method() + " " + c.Path()) })

	pages := app.Group("", s.web.LoadSession, s.web.SignedOut, s.web.CSRF)
	s.web.Routes(pages)
}

// IsUIPath reports whether sessions and CSRF apply to p (for tests).
func IsUIPath(p string) bool { return web.IsUIPath(p) }
