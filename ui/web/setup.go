package web

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// setupAllowed reports whether the first-run page may be used: a setup token
// was configured, the URL carries it, and no user exists yet.
func (h *Handler) setupAllowed(c *fiber.Ctx) (bool, error) {
	if h.cfg.SetupToken == "" || !auth.Equal(h.cfg.SetupToken, c.Params("token")) {
		return false, nil
	}
	n, err := h.store.CountUsers(c.UserContext())
	return n == 0, err
}

func (h *Handler) setupForm(c *fiber.Ctx) error {
	ok, err := h.setupAllowed(c)
	if err != nil {
		return err
	}
	if !ok {
		return httpkit.NotFound("setup page (an account already exists, or the link is wrong)")
	}
	return render(c, views.SetupPage(h.page(c, "Set up Waymark"), views.SetupForm{Token: c.Params("token")}))
}

func (h *Handler) setup(c *fiber.Ctx) error {
	ok, err := h.setupAllowed(c)
	if err != nil {
		return err
	}
	if !ok {
		return httpkit.NotFound("setup page (an account already exists, or the link is wrong)")
	}
	f := views.SetupForm{
		Token:  c.Params("token"),
		Email:  strings.TrimSpace(c.FormValue("email")),
		Name:   strings.TrimSpace(c.FormValue("name")),
		Errors: views.FieldErrors{},
	}
	pw := c.FormValue("password")
	if _, err := mail.ParseAddress(f.Email); err != nil || !strings.Contains(f.Email, "@") {
		f.Errors["email"] = "Enter a valid email address."
	}
	if f.Name == "" {
		f.Errors["name"] = "Enter your name."
	} else if len(f.Name) > 200 {
		f.Errors["name"] = "Use at most 200 characters."
	}
	if err := auth.CheckPassword(pw); err != nil {
		f.Errors["password"] = strings.ToUpper(err.Error()[:1]) + err.Error()[1:] + "."
	}
	if len(f.Errors) > 0 {
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.SetupPage(h.page(c, "Set up Waymark"), f))
	}
	hash, err := h.passwords.Hash(c.UserContext(), pw)
	if hashBusy(c, err) {
		f.Errors["password"] = hashBusyMessage
		return h.renderStatus(c, fiber.StatusServiceUnavailable, views.SetupPage(h.page(c, "Set up Waymark"), f))
	}
	if err != nil {
		return err
	}
	u, err := h.store.CreateUser(c.UserContext(), store.User{
		WorkspaceID: store.DefaultWorkspaceID, Email: f.Email, Name: f.Name, PasswordHash: hash, Role: store.RoleAdmin,
	})
	if errors.Is(err, store.ErrConflict) {
		f.Errors["email"] = "This email is already taken."
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.SetupPage(h.page(c, "Set up Waymark"), f))
	}
	if err != nil {
		return err
	}
	if _, err := h.store.AppendAudit(c.UserContext(), store.AuditEntry{
		WorkspaceID: u.WorkspaceID, ActorType: "user", ActorID: u.ID, Action: "user.create",
		TargetType: "user", TargetID: u.ID, Summary: map[string]any{"role": "admin", "via": "setup"}, IP: c.IP(),
	}); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect("/journeys", fiber.StatusSeeOther)
}
