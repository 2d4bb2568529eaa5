package web

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

// canEdit reports whether the signed-in user may change journeys.
func canEdit(c *fiber.Ctx) bool {
	u, ok := httpkit.User(c)
	return ok && (u.Role == store.RoleAdmin || u.Role == store.RoleEditor)
}

// panelJourney loads the journey a panel request is about and says whether
// the panel is read-only.
func (h *Handler) panelJourney(c *fiber.Ctx) (store.Journey, bool, error) {
	j, err := h.store.GetJourney(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if err != nil {
		return store.Journey{}, false, httpkit.JourneyError(err)
	}
	readonly := !canEdit(c) || j.Status == store.JourneyArchived || c.FormValue("readonly") == "true"
	return j, readonly, nil
}
