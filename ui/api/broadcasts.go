package api

import (
	"errors"
	"reflect"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/internal/openapi"
)

// Broadcasts: one message to an audience, once (internal/broadcasts,
// docs/broadcasts.md). Editors (journeys:write) create and cancel;
// journeys:read reads.

func (h *Handler) broadcastRoutes(api fiber.Router) {
	api.Get("/broadcasts", h.needBroadcasts, h.apiBroadcastList)
	api.Post("/broadcasts", h.needBroadcasts, h.apiBroadcastCreate)
	api.Get("/broadcasts/:id", h.needBroadcasts, h.apiBroadcastGet)
	api.Post("/broadcasts/:id/cancel", h.needBroadcasts, h.apiBroadcastCancel)
}

func (h *Handler) needBroadcasts(c *fiber.Ctx) error {
	if h.broadcasts == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "unavailable", "broadcasts are not configured on this server")
	}
	return c.Next()
}

// broadcastJSON is a broadcast with its progress.
type broadcastJSON struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Status      string                `json:"status"`
	Channel     string                `json:"channel"`
	Connector   string                `json:"connector"`
	Audience    string                `json:"audience"`
	JourneyID   string                `json:"journey_id"`
	ScheduledAt time.Time             `json:"scheduled_at"`
	CreatedBy   string                `json:"created_by"`
	CancelledBy string                `json:"cancelled_by,omitempty"`
	CreatedAt   time.Time             `json:"created_at"`
	FinishedAt  *time.Time            `json:"finished_at"`
	Progress    broadcastProgressJSON `json:"progress"`
}

type broadcastProgressJSON struct {
	Entering           bool                 `json:"entering"`
	Scanned            int64                `json:"scanned"`
	Matched            int64                `json:"matched"`
	Entered            int64                `json:"entered"`
	Sent               int64                `json:"sent"`
	Skipped            broadcastSkippedJSON `json:"skipped"`
	QuietHoursDeferred int64                `json:"quiet_hours_deferred"`
	Failed             int64                `json:"failed"`
	Unknown            int64                `json:"unknown"`
	Waiting            int64                `json:"waiting"`
	Cancelled          int64                `json:"cancelled"`
	Error              string               `json:"error,omitempty"`
}

// broadcastSkippedJSON: the recipients whose send was skipped, by reason.
type broadcastSkippedJSON struct {
	NoConsent    int64 `json:"no_consent"`
	Suppressed   int64 `json:"suppressed"`
	FrequencyCap int64 `json:"frequency_cap"`
}

type broadcastListJSON struct {
	Broadcasts []broadcastJSON `json:"broadcasts"`
	Next       string          `json:"next"`
}

// broadcastCreateJSON is the body of POST /api/v1/broadcasts.
type broadcastCreateJSON struct {
	Name         string                   `json:"name"`
	Audience     string                   `json:"audience"`
	Channel      string                   `json:"channel"`
	Connector    string                   `json:"connector"`
	Subject      string                   `json:"subject,omitempty"`
	HTML         string                   `json:"html,omitempty"`
	Text         string                   `json:"text,omitempty"`
	Payload      string                   `json:"payload,omitempty"`
	ScheduledAt  *time.Time               `json:"scheduled_at,omitempty"`
	Timezone     string                   `json:"timezone,omitempty"`
	QuietHours   *broadcasts.QuietHours   `json:"quiet_hours,omitempty"`
	FrequencyCap *broadcasts.FrequencyCap `json:"frequency_cap,omitempty"`
}

func toBroadcastJSON(b broadcasts.Broadcast) broadcastJSON {
	p := b.Progress
	out := broadcastJSON{ID: b.ID, Name: b.Name, Status: b.Status, Channel: b.Channel, Connector: b.Connector, Audience: b.Audience,
		JourneyID: b.JourneyID, ScheduledAt: b.ScheduledAt, CreatedBy: b.CreatedBy, CancelledBy: b.CancelledBy, CreatedAt: b.CreatedAt, FinishedAt: b.FinishedAt,
		Progress: broadcastProgressJSON{Entering: p.Entering, Scanned: p.Scanned, Matched: p.Matched, Entered: p.Entered, Sent: p.Sent,
			QuietHoursDeferred: p.QuietHours, Failed: p.Failed, Unknown: p.Unknown, Waiting: p.Waiting, Cancelled: p.Cancelled, Error: p.Error}}
	out.Progress.Skipped.NoConsent, out.Progress.Skipped.Suppressed, out.Progress.Skipped.FrequencyCap = p.NoConsent, p.Suppressed, p.FrequencyCap
	return out
}

// BroadcastError maps the broadcast service's errors: a bad input is 422
// naming each field, an ended broadcast 409.
func BroadcastError(err error) error {
	var inv *broadcasts.InvalidError
	switch {
	case errors.As(err, &inv):
		ds := make([]httpkit.Detail, len(inv.Problems))
		for i, p := range inv.Problems {
			ds[i] = httpkit.Detail{Field: p.Field, Message: p.Message}
		}
		return httpkit.Invalid(ds)
	case errors.Is(err, broadcasts.ErrEnded):
		return httpkit.NewError(fiber.StatusConflict, "broadcast_ended", "%s", err.Error())
	case errors.Is(err, store.ErrNotFound):
		return httpkit.NotFound("broadcast")
	}
	return err
}

func (h *Handler) apiBroadcastList(c *fiber.Ctx) error {
	limit, err := httpkit.LimitParam(c, 50)
	if err != nil {
		return err
	}
	if limit > 200 {
		return httpkit.BadRequest("limit: at most 200")
	}
	bs, next, err := h.broadcasts.List(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	out := broadcastListJSON{Broadcasts: make([]broadcastJSON, len(bs)), Next: next}
	for i, b := range bs {
		out.Broadcasts[i] = toBroadcastJSON(b)
	}
	return c.JSON(out)
}

func (h *Handler) apiBroadcastCreate(c *fiber.Ctx) error {
	var in broadcastCreateJSON
	if err := httpkit.DecodeJSON(c, &in); err != nil {
		return err
	}
	ws := httpkit.APIKey(c).WorkspaceID
	b, err := h.broadcasts.Create(c.UserContext(), ws, broadcasts.Input(in), httpkit.KeyActor(c))
	if err != nil {
		return BroadcastError(err)
	}
	if err := httpkit.Audit(c, h.store, "broadcast.create", "broadcast", b.ID,
		map[string]any{"name": b.Name, "channel": b.Channel, "journey_id": b.JourneyID, "scheduled_at": b.ScheduledAt}); err != nil {
		return err
	}
	got, err := h.broadcasts.Get(c.UserContext(), ws, b.ID)
	if err != nil {
		return err
	}
	c.Location("/api/v1/broadcasts/" + b.ID)
	return c.Status(fiber.StatusCreated).JSON(toBroadcastJSON(got))
}

func (h *Handler) apiBroadcastGet(c *fiber.Ctx) error {
	b, err := h.broadcasts.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return BroadcastError(err)
	}
	return c.JSON(toBroadcastJSON(b))
}

func (h *Handler) apiBroadcastCancel(c *fiber.Ctx) error {
	b, err := h.broadcasts.Cancel(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), httpkit.KeyActor(c))
	if err != nil {
		return BroadcastError(err)
	}
	if err := httpkit.Audit(c, h.store, "broadcast.cancel", "broadcast", b.ID, map[string]any{"name": b.Name, "sent": b.Progress.Sent}); err != nil {
		return err
	}
	return c.JSON(toBroadcastJSON(b))
}

// BroadcastOpenAPI describes the broadcast operations (a part of the
// OpenAPI document beside OpenAPI's).
func BroadcastOpenAPI() openapi.Part {
	statuses := []string{store.BroadcastDraft, store.BroadcastScheduled, store.BroadcastSending, store.BroadcastDone, store.BroadcastCancelled}
	return openapi.Part{
		Ops: map[string]openapi.Op{
			"GET /api/v1/broadcasts": {Summary: "List broadcasts, newest first, with their progress", Tag: "broadcasts", Result: broadcastListJSON{},
				Errors: []int{400, 503}, Params: []openapi.Param{openapi.Cursor, openapi.Limit(200, 50)}},
			"POST /api/v1/broadcasts": {Summary: "Create a broadcast: one message to the profiles matching audience, now or at scheduled_at; the worker enters them in pages (docs/broadcasts.md)",
				Tag: "broadcasts", Body: broadcastCreateJSON{}, Status: 201, Result: broadcastJSON{}, Headers: openapi.Location, Errors: []int{400, 422, 503}},
			"GET /api/v1/broadcasts/{id}": {Summary: "A broadcast with its progress: matched, entered, sent, skipped by reason, deferred, failed",
				Tag: "broadcasts", Result: broadcastJSON{}, Errors: []int{503}},
			"POST /api/v1/broadcasts/{id}/cancel": {Summary: "Cancel: nobody more enters, runs not sent yet end, and it never sends again; an ended broadcast is 409",
				Tag: "broadcasts", Result: broadcastJSON{}, Errors: []int{409, 503}},
		},
		Names: map[reflect.Type]string{
			reflect.TypeFor[broadcastJSON]():         "Broadcast",
			reflect.TypeFor[broadcastListJSON]():     "BroadcastList",
			reflect.TypeFor[broadcastProgressJSON](): "BroadcastProgress",
			reflect.TypeFor[broadcastSkippedJSON]():  "BroadcastSkipped",
			reflect.TypeFor[broadcastCreateJSON]():   "BroadcastCreate",
		},
		WriteRequired: map[reflect.Type][]string{
			reflect.TypeFor[broadcastCreateJSON](): {"name", "audience", "channel", "connector"},
		},
		Fields: map[reflect.Type]map[string]map[string]any{
			reflect.TypeFor[broadcastJSON](): {
				"status":     openapi.Enum(statuses, ""),
				"channel":    openapi.Enum([]string{"email", "sms", "webhook"}, ""),
				"journey_id": openapi.Words("The system-managed journey that runs the broadcast."),
			},
			reflect.TypeFor[broadcastCreateJSON](): {
				"channel":      openapi.Enum([]string{"email", "sms", "webhook"}, ""),
				"audience":     openapi.Words("A condition over the profile, e.g. true, profile.plan == \"pro\" or in_segment(\"vip\")."),
				"scheduled_at": openapi.Words("When to send (RFC 3339); leave out to send now."),
				"subject":      openapi.Words("Email: the subject template (required for email)."),
				"html":         openapi.Words("Email: the HTML body template (required for email)."),
				"text":         openapi.Words("Email: the optional plain-text body; SMS: the message (required for sms)."),
				"payload":      openapi.Words("Webhook: the optional JSON payload template."),
			},
		},
	}
}
