package web

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

func rateText(r connectors.Rate) string {
	if r.PerSecond >= 1 {
		return connNumber(r.PerSecond) + "/s"
	}
	return connNumber(r.PerSecond*60) + "/min"
}

func delayText(d time.Duration) string {
	switch {
	case d <= 0:
		return "none"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1fh", d.Hours())
}

func (h *Handler) connectorList(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	ctx := c.UserContext()
	vs, err := h.connectors.List(ctx, u.WorkspaceID)
	if err != nil {
		return err
	}
	reg := h.connectors.Registry()
	var l views.ConnectorsList
	for _, v := range vs {
		row := views.ConnectorRow{ID: v.ID, Name: v.Name, TypeTitle: v.Type, Enabled: v.Enabled, Builtin: v.Builtin, Kinds: kindsText(v.Kinds), Rate: "—", Delay: "—"}
		if t, ok := reg.Lookup(v.Type); ok {
			row.TypeTitle = t.Title
		}
		b, err := h.connectors.Backlog(ctx, u.WorkspaceID, v.ID)
		if err != nil {
			return err
		}
		row.Pending = b.Pending
		if !v.Builtin {
			row.Rate, row.Delay = rateText(v.RateLimit), delayText(b.ExpectedDelay)
		}
		l.Rows = append(l.Rows, row)
	}
	return render(c, views.ConnectorsPage(h.page(c, "Connectors"), l))
}

// needConnectors answers 503 when the server runs without connector
// administration (some tests, tools).
func (h *Handler) needConnectors(c *fiber.Ctx) error {
	if h.connectors == nil {
		return httpkit.NewError(fiber.StatusServiceUnavailable, "connectors_unavailable", "connector administration is not configured on this server")
	}
	return c.Next()
}
