package web

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

func (h *Handler) renderAPIKeys(c *fiber.Ctx, status int, st views.APIKeysPage) error {
	keys, err := h.store.ListAPIKeys(c.UserContext(), httpkit.Workspace(c))
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	for _, k := range keys {
		state := "active"
		switch {
		case k.RevokedAt != nil:
			state = "revoked"
		case !k.Usable(now):
			state = "expired"
		}
		st.Rows = append(st.Rows, views.APIKeyRow{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: strings.Join(k.Scopes, ", "),
			Created: fmtTime(&k.CreatedAt), LastUsed: fmtTime(k.LastUsedAt), Expires: fmtTime(k.ExpiresAt), Status: state})
	}
	st.AllScopes = auth.Scopes
	if st.Errors == nil {
		st.Errors = views.FieldErrors{}
	}
	return h.renderStatus(c, status, views.APIKeys(h.page(c, "API keys"), st))
}

func (h *Handler) apiKeysPage(c *fiber.Ctx) error {
	return h.renderAPIKeys(c, fiber.StatusOK, views.APIKeysPage{})
}

// apiKeyCreate: POST /api-keys {name, scopes…, expires_days} — the key is
// shown once on the page that answers.
func (h *Handler) apiKeyCreate(c *fiber.Ctx) error {
	st := views.APIKeysPage{Name: strings.TrimSpace(c.FormValue("name")), Expires: strings.TrimSpace(c.FormValue("expires_days")), Errors: views.FieldErrors{}}
	for _, v := range c.Context().PostArgs().PeekMulti("scopes") {
		st.Scopes = append(st.Scopes, string(v))
	}
	if st.Name == "" {
		st.Errors["name"] = "Give the key a name."
	} else if len(st.Name) > 100 {
		st.Errors["name"] = "Use at most 100 characters."
	}
	scopes, err := auth.ParseScopes(strings.Join(st.Scopes, " "))
	if err != nil {
		st.Errors["scopes"] = "Choose at least one scope: " + err.Error() + "."
	}
	var expires *time.Time
	if st.Expires != "" {
		days, err := strconv.Atoi(st.Expires)
		if err != nil || days < 1 || days > 3650 {
			st.Errors["expires_days"] = "Enter a number of days from 1 to 3650, or leave it empty."
		} else {
			t := h.cfg.Now().Add(time.Duration(days) * 24 * time.Hour)
			expires = &t
		}
	}
	if len(st.Errors) > 0 {
		return h.renderAPIKeys(c, fiber.StatusUnprocessableEntity, st)
	}
	me, _ := httpkit.User(c)
	key, prefix, hash := auth.NewAPIKey()
	k, err := h.store.CreateAPIKey(c.UserContext(), store.APIKey{WorkspaceID: me.WorkspaceID, Name: st.Name, Prefix: prefix, KeyHash: hash,
		Scopes: scopes, CreatedBy: me.Email, ExpiresAt: expires})
	if err != nil {
		return err
	}
	summary := map[string]any{"name": k.Name, "prefix": k.Prefix, "scopes": scopes}
	if expires != nil {
		summary["expires_at"] = expires.UTC().Format(time.RFC3339)
	}
	if err := httpkit.Audit(c, h.store, "api_key.create", "api_key", k.ID, map[string]any{"after": summary}); err != nil {
		return err
	}
	return h.renderAPIKeys(c, fiber.StatusOK, views.APIKeysPage{NewKey: key})
}

// apiKeyRevoke: POST /api-keys/{id}/revoke.
func (h *Handler) apiKeyRevoke(c *fiber.Ctx) error {
	ws := httpkit.Workspace(c)
	keys, err := h.store.ListAPIKeys(c.UserContext(), ws)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k store.APIKey) bool { return k.ID == c.Params("id") })
	if i < 0 {
		return httpkit.NotFound("API key")
	}
	k := keys[i]
	err = h.store.RevokeAPIKey(c.UserContext(), ws, k.ID)
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("API key")
	}
	if err != nil {
		return err
	}
	if k.RevokedAt == nil {
		if err := httpkit.Audit(c, h.store, "api_key.revoke", "api_key", k.ID, map[string]any{
			"before": map[string]any{"name": k.Name, "prefix": k.Prefix, "status": "active"},
			"after":  map[string]any{"status": "revoked"}}); err != nil {
			return err
		}
	}
	return c.Redirect("/api-keys", fiber.StatusSeeOther)
}
