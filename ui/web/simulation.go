package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// journeySimulateUI is the editor's POST /journeys/{id}/simulate (JSON, X-CSRF-Token).
func (h *Handler) journeySimulateUI(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	return h.simulations.Run(c, httpkit.Workspace(c), httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead), httpkit.RoleAllows(u.Role, httpkit.PermAdmin))
}
