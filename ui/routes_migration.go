package ui

import "github.com/gofiber/fiber/v2"

// migrationAPIRoutes registers the API routes of the the migration planner and rollback (issue 10).
func (s *Server) migrationAPIRoutes(r fiber.Router) {}

// migrationUIRoutes registers the UI routes of the the migration planner and rollback (issue 10).
func (s *Server) migrationUIRoutes(r fiber.Router) {}
