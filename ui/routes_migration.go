package ui

import (
	"github.com/gofiber/fiber/v2"
)

// migrationUIRoutes registers the UI routes of the migration planner, rollback and test sends (issue 10).
// The publish review (GET/POST /journeys/:id/publish, journey_publish.go) carries the plan.
func (s *Server) migrationUIRoutes(r fiber.Router) {
	r.Post("/journeys/:id/rollback", s.requireUser, s.requireEditor, s.journeyRollback)
	r.Post("/journeys/:id/test-send", s.requireUser, s.requireEditor, s.journeyTestSendUI)
}
