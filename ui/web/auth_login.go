package web

import (
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

func (h *Handler) loginForm(c *fiber.Ctx) error {
	if _, ok := httpkit.User(c); ok {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return render(c, views.LoginPage(h.page(c, "Sign in"), views.LoginForm{Next: safeNext(c.Query("next"))}))
}

func (h *Handler) login(c *fiber.Ctx) error {
	f := views.LoginForm{
		Email:  strings.TrimSpace(c.FormValue("email")),
		Next:   safeNext(c.FormValue("next")),
		Errors: views.FieldErrors{},
	}
	pw := c.FormValue("password")
	if f.Email == "" {
		f.Errors["email"] = "Enter your email address."
	}
	if pw == "" {
		f.Errors["password"] = "Enter your password."
	}
	if len(f.Errors) > 0 {
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.LoginPage(h.page(c, "Sign in"), f))
	}
	res, err := h.reserveLogin(c, f.Email)
	if err != nil {
		return err
	}
	if res.Wait > 0 {
		// Locked: the password is not even checked, and the refused try is
		// not counted (so a legitimate user is not locked out forever).
		h.logger.WarnContext(c.UserContext(), "login throttled", slog.String("ip", c.IP()), slog.Duration("wait", res.Wait))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(res.Wait.Seconds()))))
		f.Error = "Too many failed sign-ins. Try again in " + waitText(res.Wait) + "."
		return h.renderStatus(c, fiber.StatusTooManyRequests, views.LoginPage(h.page(c, "Sign in"), f))
	}
	// The attempt is now recorded as a failure; only a right password
	// turns it into a success.
	u, err := h.store.GetUserByEmail(c.UserContext(), f.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = h.passwords.Burn(c.UserContext(), pw)
		if err == nil {
			err = errors.New("no such user")
		}
	case err != nil:
		return err
	case u.PasswordHash == "":
		err = h.passwords.Burn(c.UserContext(), pw) // invited, no password chosen yet
		if err == nil {
			err = errors.New("no password set")
		}
	default:
		err = h.passwords.Verify(c.UserContext(), u.PasswordHash, pw)
		if err == nil && u.DisabledAt != nil {
			err = errors.New("user disabled")
		}
	}
	if hashBusy(c, err) {
		// Not checked at all: the attempt counts against no one.
		if rerr := h.store.ReleaseLoginAttempt(c.UserContext(), res.ID); rerr != nil {
			return rerr
		}
		h.logger.WarnContext(c.UserContext(), "login refused: password hashing busy", slog.String("ip", c.IP()))
		f.Error = hashBusyMessage
		return h.renderStatus(c, fiber.StatusServiceUnavailable, views.LoginPage(h.page(c, "Sign in"), f))
	}
	if err != nil {
		h.logger.InfoContext(c.UserContext(), "login failed", slog.String("ip", c.IP()))
		f.Error = "Email or password is not right."
		return h.renderStatus(c, fiber.StatusUnauthorized, views.LoginPage(h.page(c, "Sign in"), f))
	}
	if err := h.store.MarkLoginAttemptSucceeded(c.UserContext(), res.ID); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(f.Next, fiber.StatusSeeOther)
}

func (h *Handler) logout(c *fiber.Ctx) error {
	if tok := c.Cookies(h.sessionCookieName()); tok != "" {
		if err := h.store.DeleteSession(c.UserContext(), auth.HashToken(tok)); err != nil {
			return err
		}
	}
	h.clearCookie(c, h.sessionCookieName())
	return c.Redirect("/login", fiber.StatusSeeOther)
}
