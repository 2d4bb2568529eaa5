package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Test sends (docs/live-edits.md) are internal/journeys.TestSends: these
// handlers read the request and answer; the service validates, keeps the
// quota, sends and records.

// journeyTestSendUI is the property panel's "Send test" form: it answers
// with a small HTML fragment the panel shows in place (htmx).
func (h *Handler) journeyTestSendUI(c *fiber.Ctx) error {
	version, _ := strconv.Atoi(c.FormValue("ts_version"))
	u, _ := httpkit.User(c)
	rec, err := h.testSends.Send(c.UserContext(), httpkit.Workspace(c), journeys.TestSendRequest{JourneyID: c.Params("id"),
		Node: strings.Clone(c.FormValue("ts_node")), Version: version, To: strings.Clone(c.FormValue("ts_to")),
		ProfileExternalID: strings.Clone(c.FormValue("ts_profile")), By: httpkit.ActorName(c), ActorID: "user:" + u.ID,
		MayReadProfiles: httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead), Audit: httpkit.AuditActor(c)})
	if err != nil {
		err = httpkit.TestSendError(c, err)
		var e *httpkit.Error
		if errors.As(err, &e) && e.Status < 500 {
			return h.renderStatus(c, fiber.StatusOK, views.TestSendResult(views.TestSendOutcome{Error: e.Message}))
		}
		return err
	}
	return render(c, views.TestSendResult(views.TestSendOutcome{OK: rec.Status != store.DeliveryFailed, To: rec.Recipient,
		Subject: rec.Subject, Status: rec.Status, Error: rec.Error}))
}
