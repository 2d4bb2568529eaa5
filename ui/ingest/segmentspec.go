package ingest

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// SpecStore is what the Segment-spec intake needs from storage beyond
// internal/entry: the API keys (Segment's write key is a Waymark API key)
// and identity resolution (anonymous ids, merges).
type SpecStore interface {
	GetAPIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string) error
	profiles.MergeStore
}

// SpecRoutes registers the Segment-spec tracking API at the root, where
// Segment's SDKs post (POST /v1/identify, /v1/track, /v1/page,
// /v1/screen, /v1/group, /v1/alias, /v1/batch, /v1/import and
// analytics.js's short /v1/i, /v1/t…). The API key is checked here, not
// by /api/v1's Bearer middleware: Segment sends it as the Basic username
// or as "writeKey" in the body.
func (h *Handler) SpecRoutes(r fiber.Router) {
	r.Post("/v1/:call", h.specCall)
	r.Options("/v1/:call", h.specPreflight)
}

// specCORS lets a browser's analytics.js post from any site: the calls
// carry their key, never a cookie.
func specCORS(c *fiber.Ctx) {
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type")
	c.Set(fiber.HeaderAccessControlAllowMethods, "POST, OPTIONS")
	c.Set(fiber.HeaderAccessControlMaxAge, "86400")
}

// specPreflight: OPTIONS /v1/{call}
func (h *Handler) specPreflight(c *fiber.Ctx) error {
	specCORS(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// specCall: POST /v1/{call} — 200 {"success": true} as Segment answers,
// 400 naming the field, 401 for a missing or bad key, 403 for a key
// without the scope.
func (h *Handler) specCall(c *fiber.Ctx) error {
	specCORS(c)
	if err := h.spec(c); err != nil {
		e := httpkit.ToError(err)
		if e.Status >= 500 {
			h.logger.LogAttrs(c.UserContext(), slog.LevelError, "segment-spec call failed",
				slog.String("request_id", httpkit.RequestID(c)), slog.String("path", c.Path()), slog.String("error", err.Error()))
		}
		if e.Status == fiber.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="waymark"`)
		}
		return c.Status(e.Status).JSON(httpkit.ErrorBody{Error: httpkit.ErrorPayload{Code: e.Code, Message: e.Message, Details: e.Details}})
	}
	return c.JSON(fiber.Map{"success": true})
}

func (h *Handler) spec(c *fiber.Ctx) error {
	req, err := decodeSpec(c.Params("call"), c.Body(), h.now())
	if err != nil {
		return err
	}
	key, err := h.specKey(c, req.WriteKey)
	if err != nil {
		return err
	}
	canWriteProfiles := key.HasScope(auth.ScopeProfilesWrite)
	for _, call := range req.Calls {
		if call.Event == nil && !canWriteProfiles {
			return httpkit.NewError(fiber.StatusForbidden, "insufficient_scope",
				"%s%s: an %s call writes the profile and needs the %q scope; this API key lacks it", call.Field, call.Type, call.Type, auth.ScopeProfilesWrite)
		}
	}
	ctx := c.UserContext()
	for _, call := range req.Calls {
		if err := h.applySpec(ctx, key.WorkspaceID, call, canWriteProfiles); err != nil {
			return err
		}
	}
	return nil
}

// specKey authenticates the call: the API key as the Basic username
// (empty password), a Bearer token, or the body's writeKey. The key needs
// events:write, as POST /api/v1/events does.
func (h *Handler) specKey(c *fiber.Ctx, writeKey string) (store.APIKey, error) {
	tok := ""
	hdr := c.Get(fiber.HeaderAuthorization)
	switch {
	case strings.HasPrefix(hdr, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(hdr, "Basic ")))
		if err != nil {
			return store.APIKey{}, httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "the Basic credentials are not base64: send base64(\"<API key>:\")")
		}
		tok, _, _ = strings.Cut(string(raw), ":")
	case strings.HasPrefix(hdr, "Bearer "):
		tok = strings.TrimPrefix(hdr, "Bearer ")
	default:
		tok = writeKey
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return store.APIKey{}, httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated",
			"send a Waymark API key as the write key: the Basic username with an empty password, or \"writeKey\" in the body")
	}
	if len(tok) > 512 {
		return store.APIKey{}, httpkit.NewError(fiber.StatusUnauthorized, "invalid_api_key", "the API key is unknown, revoked or expired")
	}
	k, err := h.store.GetAPIKeyByHash(c.UserContext(), auth.HashToken(tok))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.Usable(h.now())) {
		return store.APIKey{}, httpkit.NewError(fiber.StatusUnauthorized, "invalid_api_key", "the API key is unknown, revoked or expired")
	}
	if err != nil {
		return store.APIKey{}, err
	}
	if !k.HasScope(auth.ScopeEventsWrite) {
		return store.APIKey{}, httpkit.NewError(fiber.StatusForbidden, "insufficient_scope", "this API key lacks the %q scope", auth.ScopeEventsWrite)
	}
	if k.LastUsedAt == nil || h.now().Sub(*k.LastUsedAt) > 60e9 {
		if err := h.store.TouchAPIKey(c.UserContext(), k.ID); err != nil {
			return store.APIKey{}, err
		}
	}
	return k, nil
}

// applySpec applies one validated call through the entry path that
// POST /api/v1/events and /api/v1/profiles use, so event triggers,
// waiting runs, goals and attribute triggers see it the same way.
func (h *Handler) applySpec(ctx context.Context, ws string, call specCall, canWriteProfiles bool) error {
	// A call that carries both ids ties them: the anonymous profile merges
	// into the identified one. An identify always does (it sweeps late
	// arrivals); other calls only while the anonymousId is not yet an
	// alias of that userId.
	if call.UserID != "" && call.AnonymousID != "" && canWriteProfiles {
		merge := call.Type == specIdentify
		if !merge {
			ext, ok, err := h.store.AliasedProfile(ctx, ws, call.AnonymousID)
			if err != nil {
				return err
			}
			merge = !ok || ext != call.UserID
		}
		if merge {
			res, err := profiles.Identify(ctx, h.store, ws, call.UserID, call.AnonymousID)
			if err != nil {
				return err
			}
			if res.Merged && call.Type != specIdentify && call.Profile == nil && (call.Event == nil || call.Event.Profile == nil) {
				// Segment and attribute triggers see the merged profile (an
				// identify's or a call's own profile write tells them).
				if _, _, err := h.entry.SaveProfile(ctx, ws, profiles.Input{ExternalID: call.UserID}, "segment"); err != nil {
					return err
				}
			}
		}
	}
	switch call.Type {
	case specAlias:
		if _, err := profiles.Identify(ctx, h.store, ws, call.UserID, call.PreviousID); err != nil {
			return err
		}
		// Segment and attribute triggers see the merged profile.
		_, _, err := h.entry.SaveProfile(ctx, ws, profiles.Input{ExternalID: call.UserID}, "segment")
		return err
	}
	ext, err := profiles.Resolve(ctx, h.store, ws, call.UserID, call.AnonymousID)
	if err != nil {
		return err
	}
	if call.Profile != nil {
		in := *call.Profile
		in.ExternalID = ext
		_, _, err := h.entry.SaveProfile(ctx, ws, in, "segment")
		return err
	}
	ev := *call.Event
	ev.ProfileID = ext
	if ev.Profile != nil {
		if !canWriteProfiles {
			ev.Profile = nil // context.traits need profiles:write; the event is still recorded
		} else {
			p := *ev.Profile
			p.ExternalID = ext
			ev.Profile = &p
		}
	}
	_, err = h.entry.Events(ctx, ws, []entry.Event{ev})
	return err
}
