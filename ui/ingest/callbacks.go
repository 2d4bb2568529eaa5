package ingest

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// providerCallback takes a provider's delivery status report, e.g. Twilio's
// StatusCallback at /callbacks/twilio/{connector id}. The connector
// verifies the provider's signature; no session or CSRF applies.
func (h *Handler) providerCallback(c *fiber.Ctx) error {
	if h.callbacks == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "connectors_unavailable", "connector administration is not configured on this server")
	}
	form := url.Values{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) { form.Add(string(k), string(v)) })
	header := map[string]string{}
	c.Request().Header.VisitAll(func(k, v []byte) { header[strings.ToLower(string(k))] = string(v) })
	err := h.callbacks.Callback(c.UserContext(), c.Params("type"), c.Params("id"), c.OriginalURL(), connectors.CallbackRequest{
		Header: header, Form: form, Body: append([]byte(nil), c.Body()...),
	})
	switch {
	case errors.Is(err, connectors.ErrBadSignature):
		return httpkit.NewError(fiber.StatusForbidden, "bad_signature", "the callback's signature does not verify")
	case errors.Is(err, store.ErrNotFound):
		return httpkit.NotFound("callback endpoint")
	case err != nil:
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
