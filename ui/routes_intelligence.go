package ui

import "github.com/gofiber/fiber/v2"

// intelligenceAPIRoutes registers the API routes of the self-optimising split, best-time delivery and lift (issue 12).
func (s *Server) intelligenceAPIRoutes(r fiber.Router) {}

// intelligenceUIRoutes registers the UI routes of the self-optimising split, best-time delivery and lift (issue 12).
func (s *Server) intelligenceUIRoutes(r fiber.Router) {}
