package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// SimulationService runs journey simulations (internal/sim.Simulator).
type SimulationService = httpkit.Simulator

// journeySimulateUI is the editor's POST /journeys/{id}/simulate (JSON, X-CSRF-Token).
func (s *Server) journeySimulateUI(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	return s.simulations.Run(c, httpkit.Workspace(c), httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead), httpkit.RoleAllows(u.Role, httpkit.PermAdmin))
}
