package ui

import (
	"github.com/gofiber/fiber/v2"
)

// intelligenceUIRoutes registers the UI routes of the self-optimising split, best-time delivery and lift (issue 12).
func (s *Server) intelligenceUIRoutes(r fiber.Router) {
	r.Get("/journeys/:id/splits.json", s.requireUser, s.journeyBandits)
	r.Post("/journeys/:id/splits/:node/freeze", s.requireUser, s.requireEditor, s.splitFreeze)
	r.Post("/journeys/:id/splits/:node/unfreeze", s.requireUser, s.requireEditor, s.splitUnfreeze)
}
