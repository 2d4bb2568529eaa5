package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

func (h *Handler) uiPersonal(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
}

func (h *Handler) runsCSVUI(c *fiber.Ctx) error {
	return h.exports.Runs(c, httpkit.Workspace(c), h.uiPersonal(c))
}

func (h *Handler) deliveriesCSVUI(c *fiber.Ctx) error {
	return h.exports.Deliveries(c, httpkit.Workspace(c), h.uiPersonal(c))
}
