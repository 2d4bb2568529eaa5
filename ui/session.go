package ui

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

func (s *Server) sessionCookieName() string {
	if s.cfg.CookieSecure {
		return "__Host-waymark_session"
	}
	return "waymark_session"
}

func (s *Server) csrfCookieName() string {
	if s.cfg.CookieSecure {
		return "__Host-waymark_csrf"
	}
	return "waymark_csrf"
}

func (s *Server) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		Secure: s.cfg.CookieSecure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	s.setCookie(c, name, "", time.Unix(0, 0))
}

// loadSession finds the signed-in user, if any, and enforces the idle timeout.
func (s *Server) loadSession(c *fiber.Ctx) error {
	if !isUIPath(c.Path()) {
		return c.Next()
	}
	tok := c.Cookies(s.sessionCookieName())
	if tok == "" {
		return c.Next()
	}
	ctx := c.UserContext()
	id := auth.HashToken(tok)
	sess, user, err := s.store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.clearCookie(c, s.sessionCookieName())
		return c.Next()
	case err != nil:
		return err
	}
	now := s.cfg.Now()
	if now.Sub(sess.LastSeenAt) > s.cfg.SessionIdleTimeout || user.DisabledAt != nil {
		_ = s.store.DeleteSession(ctx, id)
		s.clearCookie(c, s.sessionCookieName())
		return c.Next()
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.store.TouchSession(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	httpkit.SetSession(c, sess, user)
	return c.Next()
}

// requireUser sends anonymous visitors to the login page (GET) or answers 401.
func (s *Server) requireUser(c *fiber.Ctx) error {
	if _, ok := httpkit.User(c); ok {
		return c.Next()
	}
	if c.Method() == fiber.MethodGet {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	return httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "sign in first")
}

// csrfToken returns the token forms must carry: the session's, or for a
// signed-out visitor a random one in its own cookie (double submit).
func (s *Server) csrfToken(c *fiber.Ctx) string {
	if sess, ok := httpkit.Session(c); ok {
		return sess.CSRFToken
	}
	if tok, ok := httpkit.AnonCSRF(c); ok {
		return tok
	}
	tok := c.Cookies(s.csrfCookieName())
	if len(tok) < 32 {
		tok = auth.Token(32)
		s.setCookie(c, s.csrfCookieName(), tok, time.Time{})
	}
	httpkit.SetAnonCSRF(c, tok)
	return tok
}

// csrf refuses a state-changing UI request without the right token or from
// a foreign origin. GET, HEAD and OPTIONS never change state.
func (s *Server) csrf(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !isUIPath(c.Path()) {
		return c.Next()
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !s.sameOrigin(c, origin) && !(origin == "null" && isTokenPage(c.Path())) {
		s.logger.WarnContext(c.UserContext(), "csrf: foreign origin", slog.String("origin", origin), slog.String("path", httpkit.LogPath(c.Path())))
		return httpkit.NewError(fiber.StatusForbidden, "csrf", "request from another site refused")
	}
	var want string
	if sess, ok := httpkit.Session(c); ok {
		want = sess.CSRFToken
	} else {
		want = c.Cookies(s.csrfCookieName())
	}
	got := c.FormValue("_csrf")
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	if want == "" || got == "" || !auth.Equal(want, got) {
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

func (s *Server) sameOrigin(c *fiber.Ctx, origin string) bool {
	if s.cfg.TrustedOrigin != "" && strings.EqualFold(origin, s.cfg.TrustedOrigin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, string(c.Request().Host()))
}

// startSession signs the user in with a fresh session id (never reusing a
// pre-login token) and sets the cookie.
func (s *Server) startSession(c *fiber.Ctx, u store.User) error {
	if old := c.Cookies(s.sessionCookieName()); old != "" {
		// A browser that was signed in (as anyone) loses that session.
		if err := s.store.DeleteSession(c.UserContext(), auth.HashToken(old)); err != nil {
			return err
		}
	}
	tok := auth.Token(32)
	now := s.cfg.Now()
	exp := now.Add(s.cfg.SessionMaxAge)
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > 256 {
		ua = ua[:256]
	}
	_, err := s.store.CreateSession(c.UserContext(), store.Session{
		ID: auth.HashToken(tok), UserID: u.ID, WorkspaceID: u.WorkspaceID, CSRFToken: auth.Token(32),
		IP: c.IP(), UserAgent: ua, ExpiresAt: exp,
	})
	if err != nil {
		return err
	}
	if err := s.store.RecordLogin(c.UserContext(), u.ID); err != nil {
		return err
	}
	s.setCookie(c, s.sessionCookieName(), tok, exp)
	s.clearCookie(c, s.csrfCookieName())
	return nil
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
