package ui

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// ConnectorAdmin is what connector administration needs beyond storage:
// the connector registry, secret sealing, test calls, provider callbacks
// and unsubscribe tokens. *connectors.Service implements it.
type ConnectorAdmin interface {
	Registry() *connectors.Registry
	List(ctx context.Context, workspaceID string) ([]connectors.View, error)
	Get(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Create(ctx context.Context, workspaceID string, in connectors.Input) (connectors.View, error)
	Update(ctx context.Context, workspaceID, id string, p connectors.Patch) (connectors.View, []string, error)
	SetEnabled(ctx context.Context, workspaceID, id string, enabled bool) (connectors.View, error)
	Delete(ctx context.Context, workspaceID, id string) (connectors.View, error)
	Test(ctx context.Context, workspaceID, id, to string) (connectors.TestResult, error)
	Backlog(ctx context.Context, workspaceID, id string) (connectors.Backlog, error)
	Callback(ctx context.Context, typeName, id, path string, req connectors.CallbackRequest) error
	ParseUnsubscribe(token string) (connectors.UnsubscribeTarget, error)
	Unsubscribe(ctx context.Context, token string) (connectors.UnsubscribeTarget, error)
}

// connectorStore is the storage connector administration needs: the
// sandbox's deliveries (the Test inbox) and the suppression list.
type connectorStore interface {
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	GetDelivery(ctx context.Context, workspaceID, id string) (store.Delivery, error)
	ListSuppressions(ctx context.Context, workspaceID string, f store.SuppressionFilter) ([]store.Suppression, string, error)
	AddSuppression(ctx context.Context, s store.Suppression) (store.Suppression, error)
	DeleteSuppression(ctx context.Context, workspaceID, channel, address string) error
}

// connectorUIRoutes registers the connector admin pages (signed-in
// admins), the Test inbox (admins and editors), and the public unsubscribe
// page /u/{token}, which lives outside sessions and CSRF.
func (s *Server) connectorUIRoutes(r fiber.Router) {
	user, admin := s.requireUser, s.requireAdmin
	r.Get("/connectors", user, admin, s.needConnectors, s.connectorList)
	r.Get("/connectors/new", user, admin, s.needConnectors, s.connectorNew)
	r.Post("/connectors", user, admin, s.needConnectors, s.connectorCreate)
	r.Get("/connectors/:id", user, admin, s.needConnectors, s.connectorEdit)
	r.Post("/connectors/:id", user, admin, s.needConnectors, s.connectorUpdate)
	r.Post("/connectors/:id/test", user, admin, s.needConnectors, s.connectorCheck)
	r.Post("/connectors/:id/enable", user, admin, s.needConnectors, s.connectorSetEnabled(true))
	r.Post("/connectors/:id/disable", user, admin, s.needConnectors, s.connectorSetEnabled(false))
	r.Post("/connectors/:id/delete", user, admin, s.needConnectors, s.connectorDelete)

	r.Get("/test-inbox", user, s.requireEditor, s.testInbox)
	r.Get("/test-inbox/:id", user, s.requireEditor, s.testInboxMessage)
	r.Get("/test-inbox/:id/body", user, s.requireEditor, s.testInboxBody)

	r.Get("/u/:token", s.unsubscribeForm)
	r.Post("/u/:token", s.unsubscribe)
}

// requireAdmin refuses signed-in users who are not admins.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if u, ok := httpkit.User(c); ok && u.Role == store.RoleAdmin {
		return c.Next()
	}
	return httpkit.NewError(fiber.StatusForbidden, "forbidden", "only admins manage connectors")
}

// needConnectors answers 503 when the server runs without connector
// administration (some tests, tools).
func (s *Server) needConnectors(c *fiber.Ctx) error {
	if s.connectors == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "connectors_unavailable", "connector administration is not configured on this server")
	}
	return c.Next()
}
