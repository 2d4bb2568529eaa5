package api

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// keyStore finds and touches API keys.
type keyStore interface {
	GetAPIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string) error
}

// Auth authenticates /api/v1 requests with `Authorization: Bearer <key>`;
// the permission table's guard then checks the key's scopes.
func (h *Handler) Auth(c *fiber.Ctx) error {
	hdr := c.Get(fiber.HeaderAuthorization)
	tok, ok := strings.CutPrefix(hdr, "Bearer ")
	if !ok || tok == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="waymark"`)
		return httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
	}
	k, err := h.store.GetAPIKeyByHash(c.UserContext(), auth.HashToken(strings.TrimSpace(tok)))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.Usable(h.now())) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="waymark", error="invalid_token"`)
		return httpkit.NewError(fiber.StatusUnauthorized, "invalid_api_key", "the API key is unknown, revoked or expired")
	}
	if err != nil {
		return err
	}
	if k.LastUsedAt == nil || h.now().Sub(*k.LastUsedAt) > 60e9 {
		if err := h.store.TouchAPIKey(c.UserContext(), k.ID); err != nil {
			return err
		}
	}
	httpkit.SetAPIKey(c, k)
	return c.Next()
}

func (h *Handler) apiWhoami(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return c.JSON(fiber.Map{"api_key": fiber.Map{"id": k.ID, "name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes, "workspace_id": k.WorkspaceID}})
}
