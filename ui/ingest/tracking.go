package ingest

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/engagement"
)

// Tracking records email opens and clicks (*engagement.Service).
type Tracking interface {
	Open(ctx context.Context, h engagement.Hit) (engagement.Result, error)
	Click(ctx context.Context, h engagement.Hit) (engagement.Result, error)
}

// pixel is a transparent 1×1 GIF.
var pixel = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// trackingRoutes registers the open pixel and the click redirect: public,
// the signed token is the credential (docs/engagement.md).
func (h *Handler) trackingRoutes(r fiber.Router) {
	r.Get("/t/o/:token", h.trackOpen)
	r.Get("/t/c/:token", h.trackClick)
}

func (h *Handler) hit(c *fiber.Ctx, token string) engagement.Hit {
	return engagement.Hit{Token: strings.Clone(token), Method: c.Method(), UserAgent: strings.Clone(c.Get(fiber.HeaderUserAgent)), IP: c.IP()}
}

// trackOpen serves the open pixel /t/o/{token}.gif and records the open.
func (h *Handler) trackOpen(c *fiber.Ctx) error {
	tok, ok := strings.CutSuffix(c.Params("token"), ".gif")
	if !ok || h.tracking == nil {
		return notFound(c)
	}
	if _, err := h.tracking.Open(c.UserContext(), h.hit(c, tok)); err != nil {
		if errors.Is(err, engagement.ErrBadToken) {
			return notFound(c)
		}
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store, no-cache, must-revalidate, max-age=0")
	c.Set("Pragma", "no-cache")
	c.Set(fiber.HeaderExpires, "0")
	c.Type("gif")
	return c.Send(pixel)
}

// trackClick records a click on /t/c/{token} and redirects to the link's
// URL as the message had it (signed in the token: never anywhere else).
func (h *Handler) trackClick(c *fiber.Ctx) error {
	if h.tracking == nil {
		return notFound(c)
	}
	res, err := h.tracking.Click(c.UserContext(), h.hit(c, c.Params("token")))
	if err != nil {
		if errors.Is(err, engagement.ErrBadToken) {
			return notFound(c)
		}
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Redirect(res.URL, fiber.StatusFound)
}

// notFound answers a bad, altered or forged token: a plain 404, the same
// for every reason, with no redirect.
func notFound(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusNotFound).SendString("Not found")
}
