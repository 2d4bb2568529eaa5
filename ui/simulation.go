package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// SimulationService runs journey simulations (internal/sim.Simulator).
type SimulationService = httpkit.Simulator

// apiJourneySimulate is POST /api/v1/journeys/{id}/simulate.
func (s *Server) apiJourneySimulate(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return s.simulations.Run(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead), k.HasScope(auth.ScopeAdmin))
}

// journeySimulateUI is the editor's POST /journeys/{id}/simulate (JSON, X-CSRF-Token).
func (s *Server) journeySimulateUI(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	return s.simulations.Run(c, httpkit.Workspace(c), httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead), httpkit.RoleAllows(u.Role, httpkit.PermAdmin))
}
