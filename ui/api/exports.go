package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

func (h *Handler) apiRunsCSV(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return h.exports.Runs(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead))
}

func (h *Handler) apiDeliveriesCSV(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return h.exports.Deliveries(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead))
}
