package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeyStatsUI is the canvas's counters and the message steps' engagement
// (internal/journeys.Reports.StatsWithMessages).
func (h *Handler) journeyStatsUI(c *fiber.Ctx) error {
	return httpkit.ServeStatsWithMessages(c, h.reports, httpkit.Workspace(c))
}
