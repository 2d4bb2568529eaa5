package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// sessionsPage: GET /sessions — every signed-in browser of the workspace.
func (h *Handler) sessionsPage(c *fiber.Ctx) error {
	list, err := h.store.ListWorkspaceSessions(c.UserContext(), httpkit.Workspace(c))
	if err != nil {
		return err
	}
	cur, _ := httpkit.Session(c)
	rows := make([]views.SessionRow, len(list))
	for i, v := range list {
		rows[i] = views.SessionRow{ID: v.ID, UserEmail: v.UserEmail, IP: v.IP, UserAgent: v.UserAgent,
			Created: fmtTime(&v.CreatedAt), LastSeen: fmtTime(&v.LastSeenAt), Expires: fmtTime(&v.ExpiresAt), Current: v.ID == cur.ID}
	}
	return render(c, views.Sessions(h.page(c, "Sessions"), rows))
}

// sessionRevoke: POST /sessions/{id}/revoke — signs a browser out at once.
func (h *Handler) sessionRevoke(c *fiber.Ctx) error {
	sess, err := h.store.DeleteWorkspaceSession(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return httpkit.NotFound("session")
	}
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "session.revoke", "user", sess.UserID, map[string]any{"ip": sess.IP, "signed_in_at": sess.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}); err != nil {
		return err
	}
	return c.Redirect("/sessions", fiber.StatusSeeOther)
}
