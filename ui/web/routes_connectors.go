package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// inboxStore is what the Test inbox reads: the sandbox's deliveries.
type inboxStore interface {
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	GetDelivery(ctx context.Context, workspaceID, id string) (store.Delivery, error)
}

// needConnectors answers 503 when the server runs without connector
// administration (some tests, tools).
func (h *Handler) needConnectors(c *fiber.Ctx) error {
	if h.connectors == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "connectors_unavailable", "connector administration is not configured on this server")
	}
	return c.Next()
}
