package ui

import (
	"github.com/gofiber/fiber/v2"
)

// simulationUIRoutes registers the UI routes of the simulator, test sends and replay (issue 10).
func (s *Server) simulationUIRoutes(r fiber.Router) {
	r.Post("/journeys/:id/simulate", s.requireUser, s.journeySimulateUI)
}
