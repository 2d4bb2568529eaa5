package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// /u/{token}: the unsubscribe link in every marketing email. The token is
// sealed by the server (workspace, channel, address), so nothing is stored
// per link. GET shows a confirmation page and changes nothing; POST (the
// page's button, or a mail client's RFC 8058 one-click POST with
// "List-Unsubscribe=One-Click") suppresses the address — no session,
// cookie or CSRF token needed, and no redirect.

// plainPage is a page with no session and no cookie set.
func (h *Handler) plainPage(title string) views.Page {
	return views.Page{Title: title, CSSURL: h.assetURLs["app.css"], Version: h.cfg.Version}
}

// maskAddress shows enough of an address to recognise it: a•••@example.com.
func maskAddress(a string) string {
	if at := strings.LastIndexByte(a, '@'); at > 0 {
		return a[:1] + "•••" + a[at:]
	}
	if len(a) > 4 {
		return "•••" + a[len(a)-4:]
	}
	return "•••"
}

func channelWord(ch string) string {
	if ch == "sms" {
		return "text"
	}
	return ch
}

func (h *Handler) unsubscribeTarget(c *fiber.Ctx) (connectors.UnsubscribeTarget, error) {
	if h.connectors == nil {
		return connectors.UnsubscribeTarget{}, httpkit.NotFound("unsubscribe link")
	}
	t, err := h.connectors.ParseUnsubscribe(c.Params("token"))
	if errors.Is(err, secrets.ErrBadToken) {
		return t, httpkit.NewError(fiber.StatusNotFound, "not_found", "This unsubscribe link is not valid. If you copied it, check that it is complete.")
	}
	return t, err
}

func (h *Handler) unsubscribeForm(c *fiber.Ctx) error {
	t, err := h.unsubscribeTarget(c)
	if err != nil {
		return h.renderStatus(c, httpkit.ToError(err).Status, errorPage(h.plainPage("Unsubscribe"), httpkit.ToError(err)))
	}
	c.Set("Cache-Control", "no-store")
	c.Set("Referrer-Policy", "no-referrer")
	return render(c, views.UnsubscribePage(h.plainPage("Unsubscribe"), views.UnsubscribeState{
		Token: c.Params("token"), Address: maskAddress(t.Address), Channel: channelWord(t.Channel)}))
}

func (h *Handler) unsubscribe(c *fiber.Ctx) error {
	if _, err := h.unsubscribeTarget(c); err != nil {
		return h.renderStatus(c, httpkit.ToError(err).Status, errorPage(h.plainPage("Unsubscribe"), httpkit.ToError(err)))
	}
	t, err := h.connectors.Unsubscribe(c.UserContext(), c.Params("token"))
	if err != nil {
		return err
	}
	c.Set("Cache-Control", "no-store")
	c.Set("Referrer-Policy", "no-referrer")
	return render(c, views.UnsubscribePage(h.plainPage("Unsubscribed"), views.UnsubscribeState{
		Address: maskAddress(t.Address), Channel: channelWord(t.Channel), Done: true}))
}
