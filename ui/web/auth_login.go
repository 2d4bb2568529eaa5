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
	f := views.LoginForm{Next: safeNext(c.Query("next"))}
	if c.Query("signed_out") != "" {
		f.Error = "You were signed out (your session ended or was signed out elsewhere). Sign in again to go on."
	}
	return render(c, views.LoginPage(h.page(c, "Sign in"), f))
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
	u, ref, err := h.checkCredentials(c, f.Email, pw)
	if err != nil {
		return err
	}
	if ref != nil {
		f.Error = ref.message
		return h.renderStatus(c, ref.status, views.LoginPage(h.page(c, "Sign in"), f))
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(f.Next, fiber.StatusSeeOther)
}

// refusal is why a sign-in was refused: the status and the message the
// user reads (a Retry-After header is already set when it applies).
type refusal struct {
	status  int
	code    string
	message string
}

// checkCredentials checks an email and password for a sign-in (the page
// or the editor's dialog), under the same throttle: too many failures
// lock the address and the client out for a while (auth_throttle.go),
// and a busy password hasher refuses without counting. It returns the
// user, or why not; err is for failures of the store.
func (h *Handler) checkCredentials(c *fiber.Ctx, email, pw string) (store.User, *refusal, error) {
	res, err := h.reserveLogin(c, email)
	if err != nil {
		return store.User{}, nil, err
	}
	if res.Wait > 0 {
		// Locked: the password is not even checked, and the refused try is
		// not counted (so a legitimate user is not locked out forever).
		h.logger.WarnContext(c.UserContext(), "login throttled", slog.String("ip", c.IP()), slog.Duration("wait", res.Wait))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(res.Wait.Seconds()))))
		return store.User{}, &refusal{fiber.StatusTooManyRequests, "throttled", "Too many failed sign-ins. Try again in " + waitText(res.Wait) + "."}, nil
	}
	// The attempt is now recorded as a failure; only a right password
	// turns it into a success.
	u, err := h.store.GetUserByEmail(c.UserContext(), email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = h.passwords.Burn(c.UserContext(), pw)
		if err == nil {
			err = errors.New("no such user")
		}
	case err != nil:
		return store.User{}, nil, err
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
			return store.User{}, nil, rerr
		}
		h.logger.WarnContext(c.UserContext(), "login refused: password hashing busy", slog.String("ip", c.IP()))
		return store.User{}, &refusal{fiber.StatusServiceUnavailable, "busy", hashBusyMessage}, nil
	}
	if err != nil {
		h.logger.InfoContext(c.UserContext(), "login failed", slog.String("ip", c.IP()))
		return store.User{}, &refusal{fiber.StatusUnauthorized, "bad_credentials", "Email or password is not right."}, nil
	}
	if err := h.store.MarkLoginAttemptSucceeded(c.UserContext(), res.ID); err != nil {
		return store.User{}, nil, err
	}
	return u, nil, nil
}

// reauthBody is POST /reauth's answer: the new session's CSRF token, for
// the page's later requests.
type reauthBody struct {
	CSRFToken string `json:"csrf_token"`
	Email     string `json:"email"`
}

// reauth signs in again from a dialog on a page whose session ended (the
// editor's "You were signed out"), without leaving the page: it takes the
// email and password as POST /login does, under the same throttle, and
// answers JSON: 200 with the new session's CSRF token, or the refusal
// (422, 401, 429 with Retry-After, 503). With "expect" set to the email
// the page was opened by, another person's password is refused (409): the
// page's work must not be saved under someone else's name. Its CSRF token
// is the signed-out visitor's, which the 401 "signed_out" answer carried.
func (h *Handler) reauth(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	email := strings.TrimSpace(c.FormValue("email"))
	pw := c.FormValue("password")
	expect := strings.TrimSpace(c.FormValue("expect"))
	refuse := func(status int, code, msg string) error {
		return c.Status(status).JSON(httpkit.ErrorBody{Error: httpkit.ErrorPayload{Code: code, Message: msg}})
	}
	switch {
	case email == "":
		return refuse(fiber.StatusUnprocessableEntity, "invalid", "Enter your email address.")
	case pw == "":
		return refuse(fiber.StatusUnprocessableEntity, "invalid", "Enter your password.")
	case len(email) > 320 || len(pw) > 1024 || len(expect) > 320:
		return refuse(fiber.StatusUnprocessableEntity, "invalid", "That email or password is too long.")
	}
	u, ref, err := h.checkCredentials(c, email, pw)
	if err != nil {
		return err
	}
	if ref != nil {
		return refuse(ref.status, ref.code, ref.message)
	}
	if expect != "" && !strings.EqualFold(expect, u.Email) {
		return refuse(fiber.StatusConflict, "other_user",
			"This page was opened by "+expect+". Sign in as them to save it here, or reload the page to sign in as "+u.Email+".")
	}
	tok, err := h.startSessionToken(c, u)
	if err != nil {
		return err
	}
	h.logger.InfoContext(c.UserContext(), "signed in again from a page", slog.String("ip", c.IP()))
	return c.JSON(reauthBody{CSRFToken: tok, Email: u.Email})
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
