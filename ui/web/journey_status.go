package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeySetStatus pauses, resumes or archives a journey from the editor
// or the list (a form POST), then goes back to the page named by next.
func (h *Handler) journeySetStatus(status string) fiber.Handler {
	action := map[string]string{store.JourneyPaused: "journey.pause", store.JourneyLive: "journey.resume", store.JourneyArchived: "journey.archive"}[status]
	return func(c *fiber.Ctx) error {
		ctx, ws := c.UserContext(), httpkit.Workspace(c)
		before, err := h.store.GetJourney(ctx, ws, c.Params("id"))
		if err != nil {
			return httpkit.JourneyError(err)
		}
		switch {
		case status == store.JourneyLive && before.Status != store.JourneyPaused:
			return httpkit.NewError(fiber.StatusConflict, "conflict", "only a paused journey can be resumed (this one is %s)", before.Status)
		case status == store.JourneyPaused && before.Status != store.JourneyLive:
			return httpkit.NewError(fiber.StatusConflict, "conflict", "only a live journey can be paused (this one is %s)", before.Status)
		case status == store.JourneyArchived && before.Status == store.JourneyArchived:
			return httpkit.NewError(fiber.StatusConflict, "conflict", "the journey is already archived")
		}
		j, err := h.store.SetJourneyStatus(ctx, ws, before.ID, status, httpkit.ActorName(c))
		if err != nil {
			return httpkit.JourneyError(err)
		}
		if err := httpkit.Audit(c, h.store, action, "journey", j.ID, map[string]any{"from": before.Status, "to": j.Status}); err != nil {
			return err
		}
		next := c.FormValue("next")
		if next == "" {
			next = "/journeys"
		}
		return c.Redirect(safeNext(next), fiber.StatusSeeOther)
	}
}
