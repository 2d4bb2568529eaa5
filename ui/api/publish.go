package api

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// migrationStore is what the migration planner's and test sends' pages read
// beyond Store's core.
type migrationStore interface {
	ListTestSends(ctx context.Context, workspaceID, journeyID string, limit int) ([]store.TestSend, error)
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
}

// publishBody is POST /api/v1/journeys/{id}/publish's optional body.
type publishBody struct {
	Plan   journeys.Plan `json:"plan"`
	DryRun bool          `json:"dry_run"`
}

// apiJourneyPublishPlan publishes the draft, with the optional migration
// plan, or reports what the plan would do (dry_run). An empty body is the
// plain publish it always was.
func (h *Handler) apiJourneyPublishPlan(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.APIKey(c).WorkspaceID
	if _, err := h.store.GetJourney(ctx, ws, c.Params("id")); err != nil {
		return httpkit.JourneyError(err) // an unknown journey is a 404 whatever the body
	}
	var body publishBody
	if raw := bytes.TrimSpace(c.Body()); len(raw) > 0 {
		// Publish took no body before the planner: a body without "plan"
		// or "dry_run" is ignored as it always was; one with them is read
		// strictly.
		var keys map[string]json.RawMessage
		if json.Unmarshal(raw, &keys) != nil {
			return httpkit.BadRequest("the body must be a JSON object: {\"plan\": {…}, \"dry_run\": true}")
		}
		_, hasPlan := keys["plan"]
		_, hasDry := keys["dry_run"]
		if hasPlan || hasDry {
			if err := httpkit.DecodeJSON(c, &body); err != nil {
				return err
			}
		}
	}
	v, rep, err := h.journeys.PublishPlan(ctx, ws, c.Params("id"), journeys.PublishRequest{
		Plan: body.Plan, DryRun: body.DryRun, By: httpkit.KeyActor(c), Audit: httpkit.AuditActor(c)})
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if body.DryRun {
		return c.JSON(fiber.Map{"dry_run": true, "migration": rep})
	}
	j, err := h.store.GetJourney(ctx, ws, v.JourneyID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"journey": toJourneyJSON(j), "version": v.Version, "published_at": v.PublishedAt, "migration": rep})
}

func (h *Handler) apiJourneyRollback(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.APIKey(c).WorkspaceID
	v, rep, err := h.journeys.Rollback(ctx, ws, c.Params("id"), httpkit.KeyActor(c), httpkit.AuditActor(c))
	if err != nil {
		return httpkit.RollbackError(err)
	}
	j, err := h.store.GetJourney(ctx, ws, v.JourneyID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"journey": toJourneyJSON(j), "version": v.Version, "published_at": v.PublishedAt, "migration": rep})
}
