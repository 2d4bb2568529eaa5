package web

import (
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// render writes a templ component as an HTML page.
func render(c *fiber.Ctx, comp templ.Component) error {
	c.Type("html", "utf-8")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

func (h *Handler) renderStatus(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status)
	return render(c, comp)
}

func errorPage(p views.Page, e *httpkit.Error) templ.Component {
	return views.ErrorPage(p, e.Status, e.Message)
}

// page fills the layout's props for this request.
func (h *Handler) page(c *fiber.Ctx, title string) views.Page {
	p := views.Page{Title: title, CSSURL: h.assetURLs["app.css"], FaviconURL: h.assetURLs["favicon.svg"], Version: h.cfg.Version}
	if u, ok := httpkit.User(c); ok {
		p.User = &views.User{Email: u.Email, Role: string(u.Role)}
	}
	p.CSRF = h.csrfToken(c)
	return p
}
