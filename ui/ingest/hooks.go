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
		err = httpkit.EntryError(err)
		h.capture(c, key, ve == nil, err, rc)
		return err
	}
	h.capture(c, key, true, nil, rc)
	if !rc.Entered {
		return c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": nil, "entered": false, "reason": rc.Reason})
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": rc.RunID, "entered": true})
}

// capture shows the request, with its answer, to whoever listens to the
// hook in the editor (hooks.Service.Capture: nothing happens unless
// someone does). It never changes the answer: a failure is logged.
func (h *Handler) capture(c *fiber.Ctx, key string, verified bool, err error, rc entry.Receipt) {
	if h.samples == nil {
		return
	}
	o := hooks.Outcome{Verified: verified, Status: fiber.StatusAccepted, RunID: rc.RunID}
	var he *httpkit.Error
	switch {
	case errors.As(err, &he):
		o.Status, o.Code, o.Message = he.Status, he.Code, he.Message
		for _, d := range he.Details {
			o.Message += "; " + d.Field + ": " + d.Message
		}
	case err != nil:
		o.Status, o.Code, o.Message = fiber.StatusInternalServerError, "internal", "Waymark could not process the request (see its log); the sender may retry it"
	case !rc.Entered:
		o.Status, o.Message = fiber.StatusOK, rc.Reason
	}
	if cerr := h.samples.Capture(c.UserContext(), key, o, c.Body()); cerr != nil {
		h.logger.WarnContext(c.UserContext(), "keeping a webhook sample for the editor", slog.String("hook_key_prefix", prefix(key)),
			slog.String("error", cerr.Error()), slog.String("request_id", httpkit.RequestID(c)))
	}
}

func prefix(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}
