package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// journeyHistory lists the published versions; each opens read-only.
func (h *Handler) journeyHistory(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	vs, err := h.store.ListJourneyVersions(ctx, ws, j.ID)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	hp := views.HistoryPage{JourneyID: j.ID, Name: j.Name, Status: j.Status, LiveVersion: j.LiveVersion}
	for _, v := range vs {
		hp.Versions = append(hp.Versions, views.VersionRow{
			Version: v.Version, PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt.UTC().Format("2 Jan 2006, 15:04 UTC"),
			Live: v.Version == j.LiveVersion,
		})
	}
	return render(c, views.HistoryPageView(h.page(c, "History of "+j.Name), hp))
}
