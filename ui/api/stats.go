package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

func (h *Handler) apiJourneyStats(c *fiber.Ctx) error {
	return httpkit.ServeStatsWithMessages(c, h.reports, httpkit.APIKey(c).WorkspaceID)
}
