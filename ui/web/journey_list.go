package web

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

func (h *Handler) journeyList(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	l := views.JourneysList{Search: c.Query("q"), Status: c.Query("status"), CanEdit: canEdit(c), Back: c.OriginalURL()}
	if !httpkit.JourneyStatusFilter(l.Status) {
		return httpkit.BadRequest("unknown status %q", l.Status)
	}
	ctx := c.UserContext()
	rows, next, err := h.store.ListJourneys(ctx, u.WorkspaceID, store.JourneyFilter{
		Status: l.Status, Search: l.Search, After: c.Query("after"), Limit: 50,
	})
	if err != nil {
		return err
	}
	ids := make([]string, len(rows))
	for i, j := range rows {
		ids[i] = j.ID
	}
	entries, err := h.store.CountJourneyEntries(ctx, u.WorkspaceID, ids, h.cfg.Now().Add(-7*24*time.Hour))
	if err != nil {
		return err
	}
	for _, j := range rows {
		l.Rows = append(l.Rows, views.JourneyRow{
			ID: j.ID, Name: j.Name, Status: j.Status, LiveVersion: j.LiveVersion, Entries7d: entries[j.ID],
			CreatedBy: j.CreatedBy, UpdatedBy: j.UpdatedBy, UpdatedAt: j.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	if next != "" {
		l.NextURL = "/journeys?" + url.Values{"after": {next}, "status": {l.Status}, "q": {l.Search}}.Encode()
	}
	return render(c, views.JourneysPage(h.appPageScripts(c, "Journeys"), l))
}
