package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// exportRoutes registers the UI's CSV exports (journey readers; personal
// columns for profile readers only).
func (s *Server) exportRoutes(r fiber.Router) {
	r.Get("/journeys/:id/runs.csv", s.requireUser, s.runsCSVUI)
	r.Get("/journeys/:id/deliveries.csv", s.requireUser, s.deliveriesCSVUI)
	r.Get("/journeys/:id/report", s.requireUser, s.journeyReport)
}

func (s *Server) uiPersonal(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
}

func (s *Server) runsCSVUI(c *fiber.Ctx) error {
	return s.exports.Runs(c, httpkit.Workspace(c), s.uiPersonal(c))
}

func (s *Server) deliveriesCSVUI(c *fiber.Ctx) error {
	return s.exports.Deliveries(c, httpkit.Workspace(c), s.uiPersonal(c))
}
