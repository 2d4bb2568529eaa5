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

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/api"
	"github.com/waymarkhq/waymark/ui/ingest"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/worker"
)

// Store is the storage the HTTP layer needs. Feature areas declare their own
// parts (editorStore, connectorStore) beside their handlers.
type Store interface {
	editorStore
	connectorStore
	explorerStore
	api.Store
	ingest.Store
	adminStore
	entry.Store
	httpkit.ExportStore
	journeys.ReportStore
	intelligenceStore
	journeys.TestSendStore
	worker.LearningStore
	opsStore

	CountUsers(ctx context.Context) (int64, error)
	CreateUser(ctx context.Context, u store.User) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
	RecordLogin(ctx context.Context, id string) error

	CreateSession(ctx context.Context, s store.Session) (store.Session, error)
	GetSession(ctx context.Context, id string) (store.Session, store.User, error)
	TouchSession(ctx context.Context, id string) error
	DeleteSession(ctx context.Context, id string) error

	GetAPIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string) error

	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	ListJourneyVersions(ctx context.Context, workspaceID, id string) ([]store.JourneyVersion, error)
	SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (store.Journey, error)

	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

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
	// (test_send.go); zero: store.DefaultTestSendQuota.
	TestSendQuota store.TestSendQuota
}

// Deps are the collaborators the server uses.
type Deps struct {
	Store      Store
	Journeys   *journeys.Service // journey documents: validate, save, publish
	Connectors ConnectorAdmin    // connector administration (routes_connectors.go)
	Engine     RunEngine         // entries, events, run control (api_runs.go)
	Profiles   ProfileAdmin      // profile import, export, erasure (routes_profiles.go)
	Hooks      HookService       // webhook triggers (hooks.go)
	TestSends  TestSender        // test sends of action nodes (test_send.go); nil: none
	Simulator  SimulationService // journey simulations (ui/simulation.go); nil: none
	Checks     []Check           // readiness probes
	// Queues is the Asynq inspector the operations page reads (an
	// *asynq.Inspector); nil: the page shows no queues or workers.
	Queues QueueInspector
	// Metrics is the Prometheus registry /metrics serves; the server adds
	// its HTTP latency histogram to it. nil: a registry of its own.
	Metrics *prometheus.Registry
	Logger  *slog.Logger
	// Passwords hashes and checks passwords with a process-wide cap on
	// how many run at once (auth_throttle.go). nil: auth.NewHasher with
	// the defaults.
	Passwords *auth.Hasher
}

// Server is Waymark's HTTP front end.
type Server struct {
	app         *fiber.App
	cfg         Config
	store       Store
	journeys    *journeys.Service
	connectors  ConnectorAdmin
	engine      RunEngine
	profiles    ProfileAdmin
	hooks       HookService
	testSends   *journeys.TestSends
	simulator   SimulationService
	checks      []Check
	queues      QueueInspector
	logger      *slog.Logger
	assets      assets
	assetURLs   map[string]string
	metrics     *prometheus.Registry
	httpm       *httpkit.HTTPMetrics
	unmapped    []string // routes registered without a permission entry
	passwords   *auth.Hasher
	previews    chan struct{} // template previews rendering at once (see editor_panel.go)
	exports     httpkit.Exports
	simulations httpkit.Simulations
	entry       *entry.Service   // webhooks and events become runs
	learning    *worker.Learning // engagement hours, as the engine learns them
	reports     *journeys.Reports
	ingest      *ingest.Handler // POST /hooks, /callbacks, /api/v1/events and /profiles
	api         *api.Handler    // /api/v1
}

// New builds the server and its routes.
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
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = 12 * time.Hour
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TestSendQuota == (store.TestSendQuota{}) {
		cfg.TestSendQuota = store.DefaultTestSendQuota
	}
	as, urls, err := loadAssets()
	if err != nil {
		return nil, err
	}
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	s := &Server{metrics: deps.Metrics, httpm: httpkit.NewHTTPMetrics(deps.Metrics), cfg: cfg, store: deps.Store, journeys: deps.Journeys, connectors: deps.Connectors, engine: deps.Engine, profiles: deps.Profiles, hooks: deps.Hooks, checks: deps.Checks, queues: deps.Queues, logger: deps.Logger, assets: as, assetURLs: urls}
	s.simulator = deps.Simulator
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.logger = slog.New(LogHandler(s.logger.Handler()))
	s.previews = make(chan struct{}, maxConcurrentPreviews)
	s.passwords = deps.Passwords
	if s.passwords == nil {
		s.passwords = auth.NewHasher(auth.DefaultHashConcurrency, auth.DefaultHashWait)
	}
	s.testSends = journeys.NewTestSends(deps.Store, deps.Journeys, deps.TestSends, cfg.TestSendQuota)
	s.exports = httpkit.Exports{Store: deps.Store, Logger: s.logger, Now: cfg.Now}
	s.simulations = httpkit.Simulations{Store: deps.Store, Journeys: deps.Journeys, Simulator: deps.Simulator}
	s.reports = journeys.NewReports(deps.Store, deps.Journeys)
	s.learning = worker.NewLearning(deps.Store, worker.LearningConfig{Now: cfg.Now})
	s.entry = entry.New(entry.Deps{Store: deps.Store, Hooks: deps.Hooks, Engine: deps.Engine, Profiles: deps.Profiles, Now: cfg.Now})
	s.ingest = ingest.New(ingest.Deps{Entry: s.entry, Store: deps.Store, Callbacks: deps.Connectors, Logger: s.logger, Now: cfg.Now})
	s.api = api.New(api.Deps{Store: deps.Store, Journeys: deps.Journeys, Reports: s.reports, TestSends: s.testSends, Engine: deps.Engine,
		Connectors: deps.Connectors, Profiles: deps.Profiles, Hooks: deps.Hooks, Simulations: s.simulations, Exports: s.exports, Now: cfg.Now})
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
	s.app.Use(s.httpm.Middleware, s.requestID, s.requestContext, s.accessLog, recover.New(), s.securityHeaders)
	// Every route goes through a guardedRouter: it puts the route's entry
	// of the permission table (permissions.go) in front of its handlers.
	app := s.guarded(s.app, "")
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", httpkit.MetricsHandler(s.metrics))
	app.Get("/static/*", s.assets.handler)
	s.ingest.Routes(app) // POST /hooks/:key, /callbacks/:type/:id
	app.Get("/api/v1/openapi.json", s.openapiJSON)

	api := app.Group("/api/v1", s.api.Auth)
	s.api.Routes(api)
	s.ingest.APIRoutes(api) // POST /events, /profiles
	api.Use(func(c *fiber.Ctx) error { return httpkit.NotFound("endpoint " + c.Method() + " " + c.Path()) })

	ui := app.Group("", s.loadSession, s.csrf)
	ui.Get("/login", s.loginForm)
	ui.Post("/login", s.login)
	ui.Post("/logout", s.logout)
	ui.Get("/setup/:token", s.setupForm)
	ui.Post("/setup/:token", s.setup)
	ui.Get("/invite/:token", s.tokenForm(store.TokenInvite))
	ui.Post("/invite/:token", s.tokenAccept(store.TokenInvite))
	ui.Get("/reset/:token", s.tokenForm(store.TokenReset))
	ui.Post("/reset/:token", s.tokenAccept(store.TokenReset))
	ui.Get("/", s.requireUser, func(c *fiber.Ctx) error { return c.Redirect("/journeys", fiber.StatusSeeOther) })
	ui.Get("/journeys", s.requireUser, s.journeyList)
	s.editorRoutes(ui)
	s.connectorUIRoutes(ui)
	s.profileUIRoutes(ui)
	s.runExplorerRoutes(ui)
	s.exportRoutes(ui)
	s.operationsRoutes(ui)
	s.adminRoutes(ui)
	s.simulationUIRoutes(ui)
	s.migrationUIRoutes(ui)
	s.intelligenceUIRoutes(ui)
}

// isUIPath reports whether CSRF and sessions apply (not API, hooks or probes).
func isUIPath(p string) bool {
	for _, pre := range []string{"/api/", "/hooks/", "/static/", "/u/", "/callbacks/"} {
		if strings.HasPrefix(p, pre) {
			return false
		}
	}
	return p != "/healthz" && p != "/readyz" && p != "/metrics"
}

// IsUIPath reports whether sessions and CSRF apply to p (for tests).
func IsUIPath(p string) bool { return isUIPath(p) }

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
}
