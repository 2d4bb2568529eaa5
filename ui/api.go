package ui

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// apiAuth authenticates /api/v1 requests with `Authorization: Bearer <key>`.
func (s *Server) apiAuth(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="waymark"`)
		return httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
	}
	k, err := s.store.GetAPIKeyByHash(c.UserContext(), auth.HashToken(strings.TrimSpace(tok)))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.Usable(s.cfg.Now())) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="waymark", error="invalid_token"`)
		return httpkit.NewError(fiber.StatusUnauthorized, "invalid_api_key", "the API key is unknown, revoked or expired")
	}
	if err != nil {
		return err
	}
	if k.LastUsedAt == nil || s.cfg.Now().Sub(*k.LastUsedAt) > 60e9 {
		if err := s.store.TouchAPIKey(c.UserContext(), k.ID); err != nil {
			return err
		}
	}
	httpkit.SetAPIKey(c, k)
	return c.Next()
}

// requireScope refuses API keys without scope.
func requireScope(scope string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !httpkit.APIKey(c).HasScope(scope) {
			return httpkit.NewError(fiber.StatusForbidden, "insufficient_scope", "this API key lacks the %q scope", scope)
		}
		return c.Next()
	}
}

func (s *Server) apiWhoami(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return c.JSON(fiber.Map{"api_key": fiber.Map{"id": k.ID, "name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes, "workspace_id": k.WorkspaceID}})
}
