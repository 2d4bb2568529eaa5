package ui

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// exportStore is what the CSV exports read: keyset pages, one at a time.
type exportStore interface {
	EachJourneyRun(ctx context.Context, workspaceID, journeyID string, p store.Period, fn func(store.RunExport) error) error
	EachJourneyDelivery(ctx context.Context, workspaceID, journeyID string, p store.Period, fn func(store.Delivery) error) error
}

// exportRoutes registers the UI's CSV exports (journey readers; personal
// columns for profile readers only).
func (s *Server) exportRoutes(r fiber.Router) {
	r.Get("/journeys/:id/runs.csv", s.requireUser, s.runsCSVUI)
	r.Get("/journeys/:id/deliveries.csv", s.requireUser, s.deliveriesCSVUI)
	r.Get("/journeys/:id/report", s.requireUser, s.journeyReport)
}

func (s *Server) uiPersonal(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
}

func (s *Server) runsCSVUI(c *fiber.Ctx) error {
	return s.exports.Runs(c, httpkit.Workspace(c), s.uiPersonal(c))
}

func (s *Server) deliveriesCSVUI(c *fiber.Ctx) error {
	return s.exports.Deliveries(c, httpkit.Workspace(c), s.uiPersonal(c))
}

func (s *Server) apiRunsCSV(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return s.exports.Runs(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead))
}

func (s *Server) apiDeliveriesCSV(c *fiber.Ctx) error {
	k := httpkit.APIKey(c)
	return s.exports.Deliveries(c, k.WorkspaceID, k.HasScope(auth.ScopeProfilesRead))
}
