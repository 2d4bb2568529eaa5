package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// apiHookGet: GET /api/v1/journeys/{id}/hook (admin) — the hook URL and its
// signing secrets, created on first request.
func (h *Handler) apiHookGet(c *fiber.Ctx) error {
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	hk, err := h.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return c.JSON(hk)
}

// apiHookRotate: POST /api/v1/journeys/{id}/hook/rotate (admin) — a new
// secret; the previous one stays valid for 24 hours.
func (h *Handler) apiHookRotate(c *fiber.Ctx) error {
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	hk, err := h.hooks.Rotate(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, h.store, "journey.hook_rotate", "journey", c.Params("id"), map[string]any{"valid_secrets": len(hk.Secrets)}); err != nil {
		return err
	}
	return c.JSON(hk)
}

// apiHookScheme: PUT /api/v1/journeys/{id}/hook {"scheme": "standard"|"github"} (admin)
func (h *Handler) apiHookScheme(c *fiber.Ctx) error {
	if h.hooks == nil {
		return httpkit.NotFound("hook")
	}
	if _, err := h.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return httpkit.JourneyError(err) // another workspace's journey is 404 whatever the body
	}
	var body struct {
		Scheme string `json:"scheme"`
	}
	if err := httpkit.DecodeStrict(c.Body(), &body); err != nil {
		return err
	}
	hk, err := h.hooks.SetScheme(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), body.Scheme)
	var ve *hooks.VerifyError
	if errors.As(err, &ve) {
		return httpkit.NewError(ve.Status, ve.Code, "%s", ve.Message)
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, h.store, "journey.hook_scheme", "journey", c.Params("id"), map[string]any{"scheme": hk.Scheme}); err != nil {
		return err
	}
	return c.JSON(hk)
}
