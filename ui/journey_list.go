package ui

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/views"
)

var journeyStatuses = map[string]bool{"": true, "all": true, store.JourneyDraft: true, store.JourneyLive: true, store.JourneyPaused: true, store.JourneyArchived: true}

func (s *Server) journeyList(c *fiber.Ctx) error {
	u, _ := currentUser(c)
	l := views.JourneysList{Search: c.Query("q"), Status: c.Query("status")}
	if !journeyStatuses[l.Status] {
		return errBadRequest("unknown status %q", l.Status)
	}
	rows, next, err := s.store.ListJourneys(c.UserContext(), u.WorkspaceID, store.JourneyFilter{
		Status: l.Status, Search: l.Search, After: c.Query("after"), Limit: 50,
	})
	if err != nil {
		return err
	}
	for _, j := range rows {
		l.Rows = append(l.Rows, views.JourneyRow{
			ID: j.ID, Name: j.Name, Status: j.Status, LiveVersion: j.LiveVersion,
			UpdatedBy: j.UpdatedBy, UpdatedAt: j.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	if next != "" {
		l.NextURL = "/journeys?" + url.Values{"after": {next}, "status": {l.Status}, "q": {l.Search}}.Encode()
	}
	return render(c, views.JourneysPage(s.page(c, "Journeys"), l))
}
