package ui

import (
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// wantsJSON reports whether the error goes out as JSON (API and hooks) or as a page.
func wantsJSON(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/hooks/") || p == "/healthz" || p == "/readyz" ||
		strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := httpkit.ToError(err)
	if e.Status >= 500 {
		s.logger.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("request_id", httpkit.RequestID(c)), slog.String("method", c.Method()),
			slog.String("path", httpkit.LogPath(c.Path())), slog.String("error", err.Error()))
	}
	c.Status(e.Status)
	if wantsJSON(c) {
		return c.JSON(httpkit.ErrorBody{Error: httpkit.ErrorPayload{Code: e.Code, Message: e.Message, Details: e.Details}})
	}
	return s.web.ErrorPage(c, e)
}

// DefaultHeaderLimit is how many bytes the request line and headers may
// take together: room for tracing headers, a few-kilobyte JWT and a
// browser's cookies (Node.js has the same default). The security review of
// 2026-12 found fasthttp's 4 KB default refusing such requests.
const DefaultHeaderLimit = 16 << 10

// keepRequestLineOnErrors lets errorHandler answer an over-long request
// head in the form its path calls for (JSON on /api and /hooks). fasthttp
// refuses such a request before routing and resets the parsed header, so
// the handler would see no path; but its error quotes the start of what it
// read, and that starts with the request line. The path is put back from
// there; when it cannot be found the answer is the HTML page, as before.
func (s *Server) keepRequestLineOnErrors() {
	srv := s.app.Server()
	next := srv.ErrorHandler
	srv.ErrorHandler = func(fctx *fasthttp.RequestCtx, err error) {
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) {
			if target, ok := requestTargetOf(err.Error()); ok {
				fctx.Request.SetRequestURI(target)
			}
		}
		next(fctx, err)
	}
}

// requestTargetOf finds the request target in fasthttp's header error,
// "… contents: "GET /api/v1/x HTTP/1.1\r\n…"…" (the first bytes it read,
// quoted). Only an origin-form target ("/…") is taken.
func requestTargetOf(msg string) (string, bool) {
	i := strings.Index(msg, "contents: ")
	if i < 0 {
		return "", false
	}
	quoted, err := strconv.QuotedPrefix(msg[i+len("contents: "):])
	if err != nil {
		return "", false
	}
	head, err := strconv.Unquote(quoted)
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(head, "\n")
	_, rest, ok := strings.Cut(strings.TrimLeft(line, "\r\n"), " ")
	if !ok {
		return "", false
	}
	target, _, _ := strings.Cut(rest, " ")
	target = strings.TrimRight(target, "\r")
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return "", false
	}
	if u, err := url.ParseRequestURI(target); err == nil {
		return u.EscapedPath(), true
	}
	if p, _, _ := strings.Cut(target, "?"); p != "" {
		return p, true
	}
	return "", false
}
