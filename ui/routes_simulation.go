package ui

import "github.com/gofiber/fiber/v2"

// simulationAPIRoutes registers the API routes of the simulator, test sends and replay (issue 10).
func (s *Server) simulationAPIRoutes(r fiber.Router) {}

// simulationUIRoutes registers the UI routes of the simulator, test sends and replay (issue 10).
func (s *Server) simulationUIRoutes(r fiber.Router) {}
