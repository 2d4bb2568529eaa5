package ui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// journeyHistory lists the published versions; each opens read-only.
func (s *Server) journeyHistory(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := s.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	vs, err := s.store.ListJourneyVersions(ctx, ws, j.ID)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	h := views.HistoryPage{JourneyID: j.ID, Name: j.Name, Status: j.Status, LiveVersion: j.LiveVersion}
	for _, v := range vs {
		h.Versions = append(h.Versions, views.VersionRow{
			Version: v.Version, PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt.UTC().Format("2 Jan 2006, 15:04 UTC"),
			Live: v.Version == j.LiveVersion,
		})
	}
	return render(c, views.HistoryPageView(s.page(c, "History of "+j.Name), h))
}
