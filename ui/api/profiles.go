package api

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// profileStore is what profile import, export and erasure need.
type profileStore interface {
	ListTriggerRuns(ctx context.Context, journeyID string, limit int) ([]store.TriggerRun, error)
}

// apiJourneyTriggers: GET /api/v1/journeys/{id}/triggers — the latest
// segment sweeps and schedule ticks with their progress.
func (h *Handler) apiJourneyTriggers(c *fiber.Ctx) error {
	j, err := h.store.GetJourney(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("journey")
	}
	if err != nil {
		return err
	}
	runs, err := h.store.ListTriggerRuns(c.UserContext(), j.ID, 20)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []store.TriggerRun{}
	}
	return c.JSON(fiber.Map{"trigger_runs": runs})
}

type exportStep struct {
	Sequence   int            `json:"sequence"`
	NodeID     string         `json:"node_id"`
	Kind       string         `json:"kind"`
	Port       string         `json:"port,omitempty"`
	Outcome    string         `json:"outcome"`
	Detail     map[string]any `json:"detail,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
}

// apiProfileExport: GET /api/v1/profiles/{external_id}/export
func (h *Handler) apiProfileExport(c *fiber.Ctx) error {
	ws := httpkit.APIKey(c).WorkspaceID
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	x, err := h.profiles.Export(c.UserContext(), ws, ext)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	events := make([]fiber.Map, 0, len(x.Events))
	for _, e := range x.Events {
		events = append(events, fiber.Map{"id": e.ID, "name": e.Name, "properties": e.Properties, "occurred_at": e.OccurredAt, "received_at": e.ReceivedAt})
	}
	runs := make([]fiber.Map, 0, len(x.Runs))
	for _, r := range x.Runs {
		steps := make([]exportStep, 0, len(x.Steps[r.ID]))
		for _, st := range x.Steps[r.ID] {
			steps = append(steps, exportStep{st.Sequence, st.NodeID, st.Kind, st.Port, st.Outcome, st.Detail, st.StartedAt, st.FinishedAt})
		}
		runs = append(runs, fiber.Map{"id": r.ID, "journey_id": r.JourneyID, "version": r.Version, "status": r.Status, "current_node": r.CurrentNode,
			"entered_at": r.EnteredAt, "finished_at": r.FinishedAt, "error": r.Error, "steps": steps})
	}
	dels := make([]fiber.Map, 0, len(x.Deliveries))
	for _, d := range x.Deliveries {
		dels = append(dels, fiber.Map{"id": d.ID, "run_id": d.RunID, "node_id": d.NodeID, "channel": d.Channel, "connector": d.Connector,
			"recipient": d.Recipient, "subject": d.Subject, "body": d.Body, "status": d.Status, "error": d.Error, "created_at": d.CreatedAt})
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="profile-export.json"`)
	return c.JSON(fiber.Map{"profile": httpkit.ToProfileJSON(x.Profile), "consent": x.Profile.Consent, "events": events, "runs": runs,
		"deliveries": dels, "truncated": x.Truncated, "exported_at": h.now().UTC()})
}

// apiProfileErase: DELETE /api/v1/profiles/{external_id} — right to
// erasure; idempotent (an erased profile answers 200 again).
func (h *Handler) apiProfileErase(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	res, err := h.profiles.Erase(c.UserContext(), k.WorkspaceID, ext, profiles.Actor{Type: "api_key", ID: k.ID, IP: c.IP()})
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"erased": true, "already_erased": res.AlreadyErased, "runs_cancelled": res.RunsCancelled})
}

// apiProfileGet: GET /api/v1/profiles/{external_id}
func (h *Handler) apiProfileGet(c *fiber.Ctx) error {
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	p, err := h.store.GetProfileByExternalID(c.UserContext(), httpkit.APIKey(c).WorkspaceID, ext)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	return c.JSON(httpkit.ToProfileJSON(p))
}
