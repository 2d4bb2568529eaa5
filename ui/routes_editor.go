package ui

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// editorStore is the storage the journey editor needs beyond Store's core.
type editorStore interface {
	// GetJourneyVersion shows a published version read-only.
	GetJourneyVersion(ctx context.Context, workspaceID, id string, version int) (store.JourneyVersion, error)
	// ConnectorTypes maps connector names to types: the property panel
	// offers the connectors that can carry a node's kind.
	ConnectorTypes(ctx context.Context, workspaceID string) (map[string]string, error)
	// CountJourneyEntries feeds the journeys list's "entries (7 days)".
	CountJourneyEntries(ctx context.Context, workspaceID string, journeyIDs []string, since time.Time) (map[string]int64, error)
}

// editorRoutes registers the journey editor's pages and actions (signed-in
// users, CSRF-protected). Viewers may open everything read-only; changes
// need the admin or editor role (requireEditor).
func (s *Server) editorRoutes(r fiber.Router) {
	user, edit := s.requireUser, s.requireEditor

	r.Get("/journeys/new", user, edit, s.journeyNewForm)
	r.Post("/journeys", user, edit, s.journeyCreate)
	r.Post("/journeys/copy", user, edit, s.journeySaveCopy)

	r.Get("/journeys/:id/edit", user, s.journeyEdit)
	r.Get("/journeys/:id/history", user, s.journeyHistory)
	r.Get("/journeys/:id/stats.json", user, s.journeyStatsUI)
	r.Get("/journeys/:id/versions/:version", user, s.journeyVersionView)
	r.Post("/journeys/:id/draft", user, edit, s.journeySaveDraft)
	r.Get("/journeys/:id/publish", user, edit, s.journeyPublishReview)
	r.Post("/journeys/:id/publish", user, edit, s.journeyPublish)
	r.Post("/journeys/:id/duplicate", user, edit, s.journeyDuplicate)
	r.Post("/journeys/:id/pause", user, edit, s.journeySetStatus(store.JourneyPaused))
	r.Post("/journeys/:id/resume", user, edit, s.journeySetStatus(store.JourneyLive))
	r.Post("/journeys/:id/archive", user, edit, s.journeySetStatus(store.JourneyArchived))

	// Panels render forms; they change nothing, so viewers may use them
	// (read-only).
	r.Post("/journeys/:id/panel/node", user, s.nodePanel)
	r.Post("/journeys/:id/panel/settings", user, s.settingsPanel)
	r.Post("/journeys/:id/panel/preview", user, s.templatePreview)
}

// canEdit reports whether the signed-in user may change journeys.
func canEdit(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && (u.Role == store.RoleAdmin || u.Role == store.RoleEditor)
}

// requireEditor refuses viewers (issue 9 generalises roles).
func (s *Server) requireEditor(c *fiber.Ctx) error {
	if canEdit(c) {
		return c.Next()
	}
	return httpkit.NewError(fiber.StatusForbidden, "forbidden", "your role can view journeys but not change them; ask an admin for the editor role")
}

// panelJourney loads the journey a panel request is about and says whether
// the panel is read-only.
func (s *Server) panelJourney(c *fiber.Ctx) (store.Journey, bool, error) {
	j, err := s.store.GetJourney(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if err != nil {
		return store.Journey{}, false, httpkit.JourneyError(err)
	}
	readonly := !canEdit(c) || j.Status == store.JourneyArchived || c.FormValue("readonly") == "true"
	return j, readonly, nil
}
