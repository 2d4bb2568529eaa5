package ingest

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/entry"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// hook takes a signed POST for a journey with a webhook trigger
// (internal/entry: verify, map, claim, enter): 202 {"run_id"}, or 200 with
// the reason a refused entry gives.
func (h *Handler) hook(c *fiber.Ctx) error {
	key := c.Params("key")
	headers := map[string][]string{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		name := strings.ToLower(string(k))
		headers[name] = append(headers[name], string(v))
	})
	rc, err := h.entry.Webhook(c.UserContext(), entry.WebhookRequest{Key: key, Header: func(name string) string { return c.Get(name) },
		Headers: headers, Body: c.Body()})
	var ve *hooks.VerifyError
	if errors.As(err, &ve) {
		h.logger.InfoContext(c.UserContext(), "webhook refused", slog.String("hook_key_prefix", prefix(key)), slog.String("reason", ve.Code),
			slog.String("ip", c.IP()), slog.String("request_id", httpkit.RequestID(c)))
	}
	if err != nil {
		return httpkit.EntryError(err)
	}
	if !rc.Entered {
		return c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": nil, "entered": false, "reason": rc.Reason})
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": rc.RunID, "entered": true})
}

func prefix(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}
