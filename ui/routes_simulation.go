package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
)

// simulationAPIRoutes registers the API routes of the simulator, test sends and replay (issue 10).
func (s *Server) simulationAPIRoutes(r fiber.Router) {
	// Journeys:read is enough: a simulation changes nothing real.
	r.Post("/journeys/:id/simulate", requireScope(auth.ScopeJourneysRead), s.apiJourneySimulate)
}

// simulationUIRoutes registers the UI routes of the simulator, test sends and replay (issue 10).
func (s *Server) simulationUIRoutes(r fiber.Router) {
	r.Post("/journeys/:id/simulate", s.requireUser, s.journeySimulateUI)
}
