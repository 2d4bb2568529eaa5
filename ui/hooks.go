package ui

import "github.com/gofiber/fiber/v2"

// hookRoutes registers the public webhook trigger endpoint, POST /hooks/{key}.
func (s *Server) hookRoutes(app fiber.Router) {}
