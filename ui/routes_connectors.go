package ui

import "github.com/gofiber/fiber/v2"

// ConnectorAdmin is what connector administration needs beyond storage
// (the connector registry, secret encryption, test calls).
type ConnectorAdmin interface{}

// connectorStore is the storage connector administration needs.
type connectorStore interface{}

// connectorAPIRoutes registers /api/v1/connectors… (API-key auth).
func (s *Server) connectorAPIRoutes(api fiber.Router) {}

// connectorUIRoutes registers the connector admin pages (signed-in admins).
func (s *Server) connectorUIRoutes(r fiber.Router) {}
