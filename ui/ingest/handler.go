// Package ingest serves the traffic other systems send: signed webhooks
// (POST /hooks/{key}), events and profile upserts (POST /api/v1/events,
// POST /api/v1/profiles, with an API key) and providers' delivery
// callbacks (POST /callbacks/{type}/{id}). It is the only surface that
// writes for an anonymous or key-authenticated caller; what a request
// becomes is internal/entry's, these handlers read the request and answer.
package ingest

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
)

// Entry turns webhooks and events into runs (*entry.Service).
type Entry interface {
	Webhook(ctx context.Context, r entry.WebhookRequest) (entry.Receipt, error)
	Events(ctx context.Context, ws string, events []entry.Event) ([]entry.EventResult, error)
	SaveProfile(ctx context.Context, ws string, p profiles.Input, source string) (store.Profile, bool, error)
}

// Callbacks verifies and applies a provider's callback (the connector
// service).
type Callbacks interface {
	Callback(ctx context.Context, typeName, id, path string, req connectors.CallbackRequest) error
}

// Samples keeps the requests to a hook someone listens to in the editor
// (*hooks.Service; docs/editor.md).
type Samples interface {
	Capture(ctx context.Context, key string, o hooks.Outcome, body []byte) error
}

// Deps are the handler's collaborators. Without Callbacks the callback
// endpoint answers 503; without Samples nobody can listen to a hook.
type Deps struct {
	Entry     Entry
	Store     Store
	Callbacks Callbacks
	Samples   Samples
	Tracking  Tracking // nil: the open pixel and click redirects answer 404
	Logger    *slog.Logger
	Now       func() time.Time
}

// Handler serves ingestion.
type Handler struct {
	entry     Entry
	store     Store
	callbacks Callbacks
	samples   Samples
	tracking  Tracking
	logger    *slog.Logger
	now       func() time.Time
}

// New returns the ingestion handler.
func New(d Deps) *Handler {
	return &Handler{entry: d.Entry, store: d.Store, callbacks: d.Callbacks, samples: d.Samples, tracking: d.Tracking, logger: d.Logger, now: d.Now}
}

// Routes registers the public endpoints: the webhook trigger and the
// providers' callbacks (each verifies its own signature).
func (h *Handler) Routes(r fiber.Router) {
	r.Post("/hooks/:key", h.hook)
	r.Post("/callbacks/:type/:id", h.providerCallback)
	h.SpecRoutes(r)     // POST /v1/{identify,track,page,screen,group,alias,batch} (segmentspec.go, docs/cdp.md)
	h.trackingRoutes(r) // GET /t/o/:token (open pixel), /t/c/:token (click redirect)
}

// APIRoutes registers the key-authenticated endpoints on the /api/v1
// group.
func (h *Handler) APIRoutes(api fiber.Router) {
	api.Post("/events", h.events)
	api.Post("/profiles", h.profileUpsert)
}
