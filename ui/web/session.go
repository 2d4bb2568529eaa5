package web

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

func (h *Handler) sessionCookieName() string {
	if h.cfg.CookieSecure {
		return "__Host-waymark_session"
	}
	return "waymark_session"
}

func (h *Handler) csrfCookieName() string {
	if h.cfg.CookieSecure {
		return "__Host-waymark_csrf"
	}
	return "waymark_csrf"
}

func (h *Handler) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		Secure: h.cfg.CookieSecure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (h *Handler) clearCookie(c *fiber.Ctx, name string) {
	h.setCookie(c, name, "", time.Unix(0, 0))
}

// LoadSession finds the signed-in user, if any, and enforces the idle timeout.
func (h *Handler) LoadSession(c *fiber.Ctx) error {
	if !IsUIPath(c.Path()) {
		return c.Next()
	}
	tok := c.Cookies(h.sessionCookieName())
	if tok == "" {
		return c.Next()
	}
	ctx := c.UserContext()
	id := auth.HashToken(tok)
	sess, user, err := h.store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.clearCookie(c, h.sessionCookieName())
		return c.Next()
	case err != nil:
		return err
	}
	now := h.cfg.Now()
	if now.Sub(sess.LastSeenAt) > h.cfg.SessionIdleTimeout || user.DisabledAt != nil {
		_ = h.store.DeleteSession(ctx, id)
		h.clearCookie(c, h.sessionCookieName())
		return c.Next()
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := h.store.TouchSession(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	httpkit.SetSession(c, sess, user)
	return c.Next()
}

// csrfToken returns the token forms must carry: the session's, or for a
// signed-out visitor a random one in its own cookie (double submit).
func (h *Handler) csrfToken(c *fiber.Ctx) string {
	if sess, ok := httpkit.Session(c); ok {
		return sess.CSRFToken
	}
	if tok, ok := httpkit.AnonCSRF(c); ok {
		return tok
	}
	tok := c.Cookies(h.csrfCookieName())
	if len(tok) < 32 {
		tok = auth.Token(32)
		h.setCookie(c, h.csrfCookieName(), tok, time.Time{})
	}
	httpkit.SetAnonCSRF(c, tok)
	return tok
}

// IsPublicPage reports whether p is a page of the UI that needs nobody
// signed in (sign-in, re-authentication, first-run setup, one-time
// links). Every other UI path is for signed-in users; the permission
// table (ui/permissions.go) says the same, and a test holds them together.
func IsPublicPage(p string) bool {
	return p == "/login" || p == "/reauth" || strings.HasPrefix(p, "/setup/") || isTokenPage(p)
}

// fromScript reports whether a request was sent by the page's scripts
// (fetch or htmx) rather than by the browser navigating: such a request
// wants an answer it can act on, not a page or a redirect to one.
// A GET counts only on the browser's word (htmx's header, Sec-Fetch-Mode),
// so a plain client asking for a page is still sent to sign in.
func fromScript(c *fiber.Ctx) bool {
	if c.Get("HX-Request") == "true" {
		return true
	}
	if mode := c.Get("Sec-Fetch-Mode"); mode != "" {
		return mode != "navigate" && mode != "nested-navigate"
	}
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return false
	}
	return c.Get("X-CSRF-Token") != "" || strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
}

// signedOutBody is the answer to a script's request when nobody is signed
// in: the page keeps what the user did, asks for the password in a dialog
// (POST /reauth, which needs CSRFToken) and sends the request again.
type signedOutBody struct {
	Error     httpkit.ErrorPayload `json:"error"`
	CSRFToken string               `json:"csrf_token"`
}

// SignedOut answers a request for a signed-in page when nobody is signed
// in: the session expired, was revoked or signed out elsewhere. A script's
// request (the editor's autosave, a panel's htmx form) gets 401
// {"error": {"code": "signed_out"}, "csrf_token": …} (and HX-Trigger:
// waymark:signed-out for htmx), never a CSRF refusal or a redirect to the
// sign-in page's HTML. A form the browser posts is sent to the sign-in
// page, which comes back to the page the form was on. It runs after
// LoadSession and before CSRF: without a session there is nothing the
// token could protect, and the refusal would only mislead.
func (h *Handler) SignedOut(c *fiber.Ctx) error {
	if _, ok := httpkit.Session(c); ok || !IsUIPath(c.Path()) || IsPublicPage(c.Path()) {
		return c.Next()
	}
	if !fromScript(c) {
		if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Next() // the permission table's guard sends it to /login?next=…
		}
		return c.Redirect("/login?signed_out=1&next="+url.QueryEscape(safeNext(sameSiteReferer(c))), fiber.StatusSeeOther)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Trigger", "waymark:signed-out")
	}
	return c.Status(fiber.StatusUnauthorized).JSON(signedOutBody{
		Error: httpkit.ErrorPayload{Code: "signed_out",
			Message: "You were signed out (your session ended or was signed out elsewhere). Sign in again to go on; nothing on this page is lost."},
		CSRFToken: h.csrfToken(c),
	})
}

// sameSiteReferer is the path (and query) of the page a request came
// from, when that page is on this site; "" otherwise.
func sameSiteReferer(c *fiber.Ctx) string {
	u, err := url.Parse(c.Get(fiber.HeaderReferer))
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, string(c.Request().Host())) {
		return ""
	}
	return u.RequestURI()
}

// CSRF refuses a state-changing UI request without the right token or from
// a foreign origin. GET, HEAD and OPTIONS never change state.
func (h *Handler) CSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !IsUIPath(c.Path()) {
		return c.Next()
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !h.sameOrigin(c, origin) && !(origin == "null" && isTokenPage(c.Path())) {
		h.logger.WarnContext(c.UserContext(), "csrf: foreign origin", slog.String("origin", origin), slog.String("path", httpkit.LogPath(c.Path())))
		return httpkit.NewError(fiber.StatusForbidden, "csrf", "request from another site refused")
	}
	var want string
	if sess, ok := httpkit.Session(c); ok {
		want = sess.CSRFToken
	} else {
		want = c.Cookies(h.csrfCookieName())
	}
	got := c.FormValue("_csrf")
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	if want == "" || got == "" || !auth.Equal(want, got) {
		if sess, ok := httpkit.Session(c); ok && got != "" && fromScript(c) && c.Get("Sec-Fetch-Site") == "same-origin" {
			// A page of this site holding the token of an earlier session
			// (signed in again in another tab, or in its own dialog while
			// this request was on its way): it may take the current one
			// and send the request again. Only a same-origin script can
			// read this answer.
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(fiber.StatusForbidden).JSON(signedOutBody{
				Error:     httpkit.ErrorPayload{Code: "csrf_stale", Message: "This page's security token is from an earlier sign-in; send the request again with the new one."},
				CSRFToken: sess.CSRFToken,
			})
		}
		return httpkit.NewError(fiber.StatusForbidden, "csrf", "the form has expired or did not come from Waymark; reload the page and try again")
	}
	return c.Next()
}

// isTokenPage reports whether p is a one-time link's page (an invitation
// or a password reset). Those pages send Referrer-Policy: no-referrer so
// the token in their URL never leaks, and browsers then send
// "Origin: null" with their form; the form's CSRF token, bound to this
// browser's cookie, is the proof there (the token check still runs).
func isTokenPage(p string) bool {
	return strings.HasPrefix(p, "/invite/") || strings.HasPrefix(p, "/reset/")
}

func (h *Handler) sameOrigin(c *fiber.Ctx, origin string) bool {
	if h.cfg.TrustedOrigin != "" && strings.EqualFold(origin, h.cfg.TrustedOrigin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, string(c.Request().Host()))
}

// startSession signs the user in with a fresh session id (never reusing a
// pre-login token) and sets the cookie.
func (h *Handler) startSession(c *fiber.Ctx, u store.User) error {
	_, err := h.startSessionToken(c, u)
	return err
}

// startSessionToken is startSession, returning the new session's CSRF
// token (for a page that signs in again without reloading).
func (h *Handler) startSessionToken(c *fiber.Ctx, u store.User) (string, error) {
	if old := c.Cookies(h.sessionCookieName()); old != "" {
		// A browser that was signed in (as anyone) loses that session.
		if err := h.store.DeleteSession(c.UserContext(), auth.HashToken(old)); err != nil {
			return "", err
		}
	}
	tok := auth.Token(32)
	now := h.cfg.Now()
	exp := now.Add(h.cfg.SessionMaxAge)
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > 256 {
		ua = ua[:256]
	}
	csrf := auth.Token(32)
	_, err := h.store.CreateSession(c.UserContext(), store.Session{
		ID: auth.HashToken(tok), UserID: u.ID, WorkspaceID: u.WorkspaceID, CSRFToken: csrf,
		IP: c.IP(), UserAgent: ua, ExpiresAt: exp,
	})
	if err != nil {
		return "", err
	}
	if err := h.store.RecordLogin(c.UserContext(), u.ID); err != nil {
		return "", err
	}
	h.setCookie(c, h.sessionCookieName(), tok, exp)
	h.clearCookie(c, h.csrfCookieName())
	return csrf, nil
}

// safeNext keeps post-login redirects on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/journeys"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/journeys"
	}
	return next
}

// IsUIPath reports whether CSRF and sessions apply (not API, hooks or probes).
func IsUIPath(p string) bool {
	for _, pre := range []string{"/api/", "/hooks/", "/static/", "/u/", "/callbacks/", "/t/", "/v1/"} {
		if strings.HasPrefix(p, pre) {
			return false
		}
	}
	return p != "/healthz" && p != "/readyz" && p != "/metrics"
}
