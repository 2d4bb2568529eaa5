package ui

import "github.com/gofiber/fiber/v2"

// editorStore is the storage the journey editor needs beyond Store's core.
type editorStore interface{}

// editorRoutes registers the journey editor's pages and actions (signed-in
// users, CSRF-protected).
func (s *Server) editorRoutes(r fiber.Router) {}
