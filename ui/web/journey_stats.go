package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeyStatsUI is the canvas's counters (internal/journeys.Reports.Stats).
func (h *Handler) journeyStatsUI(c *fiber.Ctx) error {
	return httpkit.ServeStats(c, h.reports, httpkit.Workspace(c))
}
