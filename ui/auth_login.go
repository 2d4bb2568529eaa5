package ui

import (
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/views"
)

func (s *Server) loginForm(c *fiber.Ctx) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return render(c, views.LoginPage(s.page(c, "Sign in"), views.LoginForm{Next: safeNext(c.Query("next"))}))
}

func (s *Server) login(c *fiber.Ctx) error {
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
		return s.renderStatus(c, fiber.StatusUnprocessableEntity, views.LoginPage(s.page(c, "Sign in"), f))
	}
	wait, err := s.loginLocked(c, f.Email)
	if err != nil {
		return err
	}
	if wait > 0 {
		// Locked: the password is not even checked, and the refused try is
		// not counted (so a legitimate user is not locked out forever).
		s.logger.Warn("login throttled", slog.String("ip", c.IP()), slog.Duration("wait", wait), slog.String("request_id", requestID(c)))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		f.Error = "Too many failed sign-ins. Try again in " + waitText(wait) + "."
		return s.renderStatus(c, fiber.StatusTooManyRequests, views.LoginPage(s.page(c, "Sign in"), f))
	}
	u, err := s.store.GetUserByEmail(c.UserContext(), f.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		auth.BurnPasswordTime(pw)
	case err != nil:
		return err
	case u.PasswordHash == "":
		auth.BurnPasswordTime(pw) // invited, no password chosen yet
		err = errors.New("no password set")
	default:
		err = auth.VerifyPassword(u.PasswordHash, pw)
		if err == nil && u.DisabledAt != nil {
			err = errors.New("user disabled")
		}
	}
	if rerr := s.store.RecordLoginAttempt(c.UserContext(), store.LoginAttempt{Email: f.Email, IP: c.IP(), Succeeded: err == nil}); rerr != nil {
		return rerr
	}
	if err != nil {
		s.logger.Info("login failed", slog.String("ip", c.IP()), slog.String("request_id", requestID(c)))
		f.Error = "Email or password is not right."
		return s.renderStatus(c, fiber.StatusUnauthorized, views.LoginPage(s.page(c, "Sign in"), f))
	}
	if err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(f.Next, fiber.StatusSeeOther)
}

func (s *Server) logout(c *fiber.Ctx) error {
	if tok := c.Cookies(s.sessionCookieName()); tok != "" {
		if err := s.store.DeleteSession(c.UserContext(), auth.HashToken(tok)); err != nil {
			return err
		}
	}
	s.clearCookie(c, s.sessionCookieName())
	return c.Redirect("/login", fiber.StatusSeeOther)
}
