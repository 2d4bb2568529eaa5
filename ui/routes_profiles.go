package ui

import "github.com/gofiber/fiber/v2"

// profileStore is what profile import, export and erasure need.
type profileStore interface{}

// ProfileAdmin is profile import, export and erasure as the HTTP layer uses them.
type ProfileAdmin interface{}

// profileAPIRoutes registers profile export/erasure and import endpoints under /api/v1.
func (s *Server) profileAPIRoutes(api fiber.Router) {}

// profileUIRoutes registers the profile import pages (signed-in users, CSRF).
func (s *Server) profileUIRoutes(r fiber.Router) {}
