package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// apiJourneySimulate is POST /api/v1/journeys/{id}/simulate.
func (h *Handler) apiJourneySimulate(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return h.simulations.Run(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead), k.HasScope(auth.ScopeAdmin))
}
