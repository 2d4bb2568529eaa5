package ui

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeyStats answers the numbers of a journey version for workspace ws
// (internal/journeys.Reports.Stats): ?version=N, default the live version
// (the draft's nodes, all zero, for a journey never published).
func (s *Server) journeyStats(c *fiber.Ctx, ws string) error {
	version := 0
	if raw := c.Query("version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return httpkit.BadRequest("version: want a published version number, got %q", raw)
		}
		version = n
	}
	st, err := s.reports.Stats(c.UserContext(), ws, c.Params("id"), version)
	if err != nil {
		return httpkit.StatsError(err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(st)
}

func (s *Server) apiJourneyStats(c *fiber.Ctx) error {
	return s.journeyStats(c, httpkit.APIKey(c).WorkspaceID)
}

func (s *Server) journeyStatsUI(c *fiber.Ctx) error {
	return s.journeyStats(c, httpkit.Workspace(c))
}
