// Package api serves /api/v1 to programs: journeys, runs, connectors,
// profiles' export and erasure, simulations, test sends and the reports'
// numbers, authenticated with API keys (Auth) whose scopes the permission
// table (ui/permissions.go) checks per route. Ingestion (events, profile
// upserts) is ui/ingest's; the OpenAPI document describes both (OpenAPI).
package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// Store is the storage the API reads and writes beyond its services.
type Store interface {
	keyStore
	journeyStore
	runStore
	connectorStore
	profileStore
	migrationStore
	httpkit.AuditStore
}

// journeyStore is what the journey endpoints read and write directly.
type journeyStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	ListJourneyVersions(ctx context.Context, workspaceID, id string) ([]store.JourneyVersion, error)
	SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (store.Journey, error)
}

// RunEngine is the run control the API offers.
type RunEngine interface {
	ResumeRuns(ctx context.Context, journeyID string) (int64, error)
	ExitRuns(ctx context.Context, journeyID, reason string) (int, error)
	CancelRun(ctx context.Context, workspaceID, runID, reason string) (store.Run, error)
	RetryRun(ctx context.Context, workspaceID, runID string) (store.Run, error)
	MoveRun(ctx context.Context, workspaceID, runID, nodeID, by string) (store.Run, error)
}

// Connectors is connector administration (*connectors.Service).
type Connectors interface {
	Registry() *connectors.Registry
	List(ctx context.Context, workspaceID string) ([]connectors.View, error)
	Get(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Create(ctx context.Context, workspaceID string, in connectors.Input) (connectors.View, error)
	Update(ctx context.Context, workspaceID, id string, p connectors.Patch) (connectors.View, []string, error)
	Delete(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Test(ctx context.Context, workspaceID, id, to string) (connectors.TestResult, error)
	Backlog(ctx context.Context, workspaceID, id string) (connectors.Backlog, error)
}

// Profiles is a profile's privacy export and erasure (internal/profiles).
type Profiles interface {
	Export(ctx context.Context, workspaceID, externalID string) (store.ProfileExport, error)
	Erase(ctx context.Context, workspaceID, externalID string, actor profiles.Actor) (profiles.ErasureResult, error)
}

// Hooks manages journeys' webhook triggers (internal/hooks).
type Hooks interface {
	Get(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	Rotate(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (hooks.Hook, error)
}

// Deps are the API's collaborators. Connectors, Profiles and Hooks are
// optional: without them their endpoints answer 503, are not served, or
// answer 404 (see Routes).
type Deps struct {
	Store       Store
	Journeys    *journeys.Service
	Reports     *journeys.Reports
	TestSends   *journeys.TestSends
	Engine      RunEngine
	Connectors  Connectors
	Profiles    Profiles
	Hooks       Hooks
	Simulations httpkit.Simulations
	Exports     httpkit.Exports
	Now         func() time.Time
	Broadcasts  *broadcasts.Service // nil: the broadcast endpoints answer 503
	Segments    Segments            // saved segments (segments.go); nil: 503
}

// Handler serves /api/v1.
type Handler struct {
	store       Store
	journeys    *journeys.Service
	reports     *journeys.Reports
	testSends   *journeys.TestSends
	engine      RunEngine
	connectors  Connectors
	profiles    Profiles
	hooks       Hooks
	simulations httpkit.Simulations
	exports     httpkit.Exports
	now         func() time.Time
	broadcasts  *broadcasts.Service
	segments    Segments
}

// New returns the API handler.
func New(d Deps) *Handler {
	return &Handler{store: d.Store, journeys: d.Journeys, reports: d.Reports, testSends: d.TestSends, engine: d.Engine,
		connectors: d.Connectors, profiles: d.Profiles, hooks: d.Hooks, simulations: d.Simulations, exports: d.Exports, now: d.Now, broadcasts: d.Broadcasts,
		segments: d.Segments}
}

// Routes registers every /api/v1 route on api, the group behind Auth.
// Which scope a route needs is the permission table's (ui/permissions.go).
func (h *Handler) Routes(api fiber.Router) {
	api.Get("/whoami", h.apiWhoami)
	api.Get("/nodes", h.apiNodes)

	api.Post("/journeys/validate", h.apiJourneyValidate)
	api.Get("/journeys", h.apiJourneyList)
	api.Post("/journeys", h.apiJourneyCreate)
	api.Get("/journeys/:id", h.apiJourneyGet)
	api.Get("/journeys/:id/export", h.apiJourneyExport)
	api.Put("/journeys/:id/draft", h.apiJourneyDraft)
	api.Post("/journeys/:id/publish", h.apiJourneyPublish)
	api.Post("/journeys/:id/pause", h.apiJourneyStatus(store.JourneyPaused))
	api.Post("/journeys/:id/resume", h.apiJourneyStatus(store.JourneyLive))
	api.Post("/journeys/:id/archive", h.apiJourneyStatus(store.JourneyArchived))
	api.Get("/journeys/:id/versions", h.apiJourneyVersions)
	api.Get("/journeys/:id/versions/:version", h.apiJourneyVersion)
	api.Get("/journeys/:id/diff", h.apiJourneyDiff)
	api.Get("/journeys/:id/stats", h.apiJourneyStats)
	api.Get("/journeys/:id/runs.csv", h.apiRunsCSV)
	api.Get("/journeys/:id/deliveries.csv", h.apiDeliveriesCSV)
	api.Get("/journeys/:id/hook", h.apiHookGet)
	api.Put("/journeys/:id/hook", h.apiHookScheme)
	api.Post("/journeys/:id/hook/rotate", h.apiHookRotate)
	api.Get("/profiles/:external_id", h.apiProfileGet)

	api.Get("/runs", h.apiRunList)
	api.Get("/runs/:id", h.apiRunGet)
	api.Post("/runs/:id/cancel", h.apiRunCancel)
	api.Post("/runs/:id/retry", h.apiRunRetry)
	api.Post("/runs/:id/move", h.apiRunMove)

	// Connectors, the sandbox's messages and the suppression list.
	api.Get("/connector-types", h.needConnectors, h.apiConnectorTypes)
	api.Get("/connectors", h.needConnectors, h.apiConnectorList)
	api.Post("/connectors", h.needConnectors, h.apiConnectorCreate)
	api.Get("/connectors/:id", h.needConnectors, h.apiConnectorGet)
	api.Patch("/connectors/:id", h.needConnectors, h.apiConnectorUpdate)
	api.Delete("/connectors/:id", h.needConnectors, h.apiConnectorDelete)
	api.Post("/connectors/:id/test", h.needConnectors, h.apiConnectorTest)
	api.Get("/sandbox/messages", h.apiSandboxMessages)
	api.Get("/suppressions", h.apiSuppressionList)
	h.broadcastRoutes(api) // broadcasts.go
	api.Post("/suppressions", h.apiSuppressionAdd)
	api.Delete("/suppressions", h.apiSuppressionDelete)

	// Segment sweeps and schedule ticks; profiles' export and erasure
	// (only with a profile service).
	api.Get("/journeys/:id/triggers", h.apiJourneyTriggers)
	if h.profiles != nil {
		api.Get("/profiles/:external_id/export", h.apiProfileExport)
		api.Delete("/profiles/:external_id", h.apiProfileErase)
	}

	// The simulator (journeys:read is enough: a simulation changes
	// nothing real), rollback and test sends, lift.
	api.Post("/journeys/:id/simulate", h.apiJourneySimulate)
	api.Post("/journeys/:id/rollback", h.apiJourneyRollback)
	api.Post("/journeys/:id/test-send", h.apiJourneyTestSend)
	api.Get("/journeys/:id/test-sends", h.apiJourneyTestSends)
	api.Get("/journeys/:id/lift", h.apiJourneyLift)
	h.segmentRoutes(api) // saved segments (segments.go)
}

// needConnectors answers 503 when the server runs without connector
// administration (some tests, tools).
func (h *Handler) needConnectors(c *fiber.Ctx) error {
	if h.connectors == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "connectors_unavailable", "connector administration is not configured on this server")
	}
	return c.Next()
}
