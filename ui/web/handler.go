// Package web serves Waymark's pages to people: the journey editor and
// lists, reports, the run explorer, connectors, profile import and the
// admin pages, server-rendered with templ and htmx. Requests carry a
// session cookie (LoadSession) and a CSRF token (CSRF); which role a page
// needs is the permission table's (ui/permissions.go).
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// Store is the storage the pages read and write beyond their services:
// each feature declares its part beside its handlers.
type Store interface {
	editorStore
	inboxStore
	explorerStore
	adminStore
	intelligenceStore
	opsStore
	accountStore
	triggerStore
	httpkit.AuditStore

	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	ListJourneys(ctx context.Context, workspaceID string, f store.JourneyFilter) ([]store.Journey, string, error)
	ListJourneyVersions(ctx context.Context, workspaceID, id string) ([]store.JourneyVersion, error)
	SetJourneyStatus(ctx context.Context, workspaceID, id, status, by string) (store.Journey, error)
}

// accountStore is what signing in, sessions and the first-run setup read
// and write.
type accountStore interface {
	CountUsers(ctx context.Context) (int64, error)
	CreateUser(ctx context.Context, u store.User) (store.User, error)
	GetUserByEmail(ctx context.Context, email string) (store.User, error)
	RecordLogin(ctx context.Context, id string) error
	CreateSession(ctx context.Context, s store.Session) (store.Session, error)
	GetSession(ctx context.Context, id string) (store.Session, store.User, error)
	TouchSession(ctx context.Context, id string) error
	DeleteSession(ctx context.Context, id string) error
}

// Config tunes the pages.
type Config struct {
	Version            string
	CookieSecure       bool          // Secure + __Host- cookies (serve over HTTPS)
	TrustedOrigin      string        // scheme://host[:port] of the public base URL
	SessionIdleTimeout time.Duration // default 12h
	SessionMaxAge      time.Duration // default 7 days
	SetupToken         string        // one-time token for the first admin; "" disables /setup
	Now                func() time.Time
}

// RunControl is what the pages do to runs and journeys' runs.
type RunControl interface {
	ResumeRuns(ctx context.Context, journeyID string) (int64, error)
	ExitRuns(ctx context.Context, journeyID, reason string) (int, error)
	CancelRun(ctx context.Context, workspaceID, runID, reason string) (store.Run, error)
	RetryRun(ctx context.Context, workspaceID, runID string) (store.Run, error)
	MoveRun(ctx context.Context, workspaceID, runID, nodeID, by string) (store.Run, error)
}

// Connectors is connector administration, the unsubscribe page and the
// connector registry (*connectors.Service).
type Connectors interface {
	Registry() *connectors.Registry
	List(ctx context.Context, workspaceID string) ([]connectors.View, error)
	Get(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Create(ctx context.Context, workspaceID string, in connectors.Input) (connectors.View, error)
	Update(ctx context.Context, workspaceID, id string, p connectors.Patch) (connectors.View, []string, error)
	SetEnabled(ctx context.Context, workspaceID, id string, enabled bool) (connectors.View, error)
	Delete(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Test(ctx context.Context, workspaceID, id, to string) (connectors.TestResult, error)
	Backlog(ctx context.Context, workspaceID, id string) (connectors.Backlog, error)
	ParseUnsubscribe(token string) (connectors.UnsubscribeTarget, error)
	Unsubscribe(ctx context.Context, token string) (connectors.UnsubscribeTarget, error)
}

// ProfileImport is the CSV import of profiles (internal/profiles).
type ProfileImport interface {
	Stage(ctx context.Context, workspaceID, filename, actor string, data []byte) (store.ProfileImport, []string, [][]string, error)
	Start(ctx context.Context, workspaceID, id string, m profiles.Mapping) (store.ProfileImport, error)
	Get(ctx context.Context, workspaceID, id string) (store.ProfileImport, error)
}

// BestHours reads a profile's engagement hours as the engine learns them
// (*worker.Learning).
type BestHours interface {
	ProfileHours(ctx context.Context, profileID string, names []string, loc *time.Location) (learn.HourProfile, error)
}

// Deps are the pages' collaborators. Connectors, Profiles and Queues are
// optional: without them their pages answer 503, are not served, or show
// nothing.
type Deps struct {
	Store       Store
	Journeys    *journeys.Service
	Reports     *journeys.Reports
	TestSends   *journeys.TestSends
	Engine      RunControl
	Connectors  Connectors
	Profiles    ProfileImport
	Learning    BestHours
	Queues      QueueInspector
	Simulations httpkit.Simulations
	Exports     httpkit.Exports
	Passwords   *auth.Hasher
	Logger      *slog.Logger
	// Hooks are the journeys' webhook triggers, for the trigger panel
	// (trigger_panel.go); nil: the panel says webhooks are not set up.
	Hooks Hooks
	// Static holds the assets, under static/ (served hashed by Static).
	Static fs.FS
	// Broadcasts: nil, the broadcast pages answer 503 (broadcasts.go).
	Broadcasts *broadcasts.Service
	// Segments are the saved segments (segments.go); nil: 503.
	Segments Segments
}

// Handler serves the pages.
type Handler struct {
	cfg         Config
	store       Store
	journeys    *journeys.Service
	reports     *journeys.Reports
	testSends   *journeys.TestSends
	engine      RunControl
	connectors  Connectors
	profiles    ProfileImport
	learning    BestHours
	queues      QueueInspector
	simulations httpkit.Simulations
	exports     httpkit.Exports
	passwords   *auth.Hasher
	logger      *slog.Logger
	hooks       Hooks
	assets      assets
	assetURLs   map[string]string
	previews    chan struct{} // template previews rendering at once (see editor_panel.go)
	broadcasts  *broadcasts.Service
	segments    Segments
}

// New returns the pages' handler; it fails when the assets cannot be read.
func New(cfg Config, d Deps) (*Handler, error) {
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = 12 * time.Hour
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	as, urls, err := loadAssets(d.Static)
	if err != nil {
		return nil, err
	}
	if d.Passwords == nil {
		d.Passwords = auth.NewHasher(auth.DefaultHashConcurrency, auth.DefaultHashWait)
	}
	return &Handler{cfg: cfg, store: d.Store, journeys: d.Journeys, reports: d.Reports, testSends: d.TestSends, engine: d.Engine,
		connectors: d.Connectors, profiles: d.Profiles, learning: d.Learning, queues: d.Queues, simulations: d.Simulations,
		exports: d.Exports, passwords: d.Passwords, logger: d.Logger, hooks: d.Hooks, assets: as, assetURLs: urls,
		previews: make(chan struct{}, maxConcurrentPreviews), broadcasts: d.Broadcasts, segments: d.Segments}, nil
}

// Static serves the embedded assets under their content-hashed URLs.
func (h *Handler) Static(c *fiber.Ctx) error { return h.assets.handler(c) }

// ErrorPage renders e as a page, with its status.
func (h *Handler) ErrorPage(c *fiber.Ctx, e *httpkit.Error) error {
	return h.renderStatus(c, e.Status, errorPage(h.page(c, httpkit.StatusText(e.Status)), e))
}
