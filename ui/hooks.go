package ui

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// HookService manages and verifies journeys' webhook triggers.
type HookService interface {
	Get(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	Rotate(ctx context.Context, workspaceID, journeyID string) (hooks.Hook, error)
	SetScheme(ctx context.Context, workspaceID, journeyID, scheme string) (hooks.Hook, error)
	Verify(ctx context.Context, key string, header func(string) string, body []byte) (store.Journey, hooks.Receipt, error)
}

// apiHookGet: GET /api/v1/journeys/{id}/hook (admin) — the hook URL and its
// signing secrets, created on first request.
func (s *Server) apiHookGet(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	h, err := s.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	return c.JSON(h)
}

// apiHookRotate: POST /api/v1/journeys/{id}/hook/rotate (admin) — a new
// secret; the previous one stays valid for 24 hours.
func (s *Server) apiHookRotate(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	h, err := s.hooks.Rotate(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, s.store, "journey.hook_rotate", "journey", c.Params("id"), map[string]any{"valid_secrets": len(h.Secrets)}); err != nil {
		return err
	}
	return c.JSON(h)
}

// apiHookScheme: PUT /api/v1/journeys/{id}/hook {"scheme": "standard"|"github"} (admin)
func (s *Server) apiHookScheme(c *fiber.Ctx) error {
	if s.hooks == nil {
		return httpkit.NotFound("hook")
	}
	if _, err := s.hooks.Get(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id")); err != nil {
		return httpkit.JourneyError(err) // another workspace's journey is 404 whatever the body
	}
	var body struct {
		Scheme string `json:"scheme"`
	}
	if err := httpkit.DecodeStrict(c.Body(), &body); err != nil {
		return err
	}
	h, err := s.hooks.SetScheme(c.UserContext(), httpkit.APIKey(c).WorkspaceID, c.Params("id"), body.Scheme)
	var ve *hooks.VerifyError
	if errors.As(err, &ve) {
		return httpkit.NewError(ve.Status, ve.Code, "%s", ve.Message)
	}
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, s.store, "journey.hook_scheme", "journey", c.Params("id"), map[string]any{"scheme": h.Scheme}); err != nil {
		return err
	}
	return c.JSON(h)
}
