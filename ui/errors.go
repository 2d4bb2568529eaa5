package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/waymarkhq/waymark/store"
)

// Detail names one problem in the request, e.g. a journey node's field.
type Detail struct {
	NodeID  string `json:"node_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is an error with the HTTP status and the code clients see. Handlers
// return it; errorHandler renders it as JSON for the API and as a page for
// the UI, in one place.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []Detail
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errBadRequest(format string, args ...any) *Error {
	return newError(fiber.StatusBadRequest, "bad_request", format, args...)
}

func errNotFound(what string) *Error {
	return newError(fiber.StatusNotFound, "not_found", "%s not found", what)
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

// toError maps any error to the Error clients see.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return newError(fe.Code, "body_too_large", "request body is larger than the limit")
		case fiber.StatusNotFound:
			return newError(fe.Code, "not_found", "no such page or endpoint")
		case fiber.StatusMethodNotAllowed:
			return newError(fe.Code, "method_not_allowed", "method not allowed here")
		case fiber.StatusUnsupportedMediaType:
			return newError(fe.Code, "unsupported_media_type", "%s", fe.Message)
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return newError(fe.Code, "headers_too_large", "the request line and headers are larger than the server's limit")
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return newError(fe.Code, strings.ReplaceAll(strings.ToLower(fiberStatusText(fe.Code)), " ", "_"), "%s", fe.Message)
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// The request's context ran out (WAYMARK_REQUEST_TIMEOUT) and its
		// work was cancelled: nothing half-done was committed by it.
		return newError(fiber.StatusServiceUnavailable, "request_timeout", "the request took longer than the server allows; try again or narrow it")
	case errors.Is(err, store.ErrNotFound):
		return newError(fiber.StatusNotFound, "not_found", "not found")
	case errors.Is(err, store.ErrConflict):
		return newError(fiber.StatusConflict, "conflict", "%s", err.Error())
	}
	return &Error{Status: fiber.StatusInternalServerError, Code: "internal", Message: "internal server error"}
}

func fiberStatusText(code int) string {
	if t := utils.StatusMessage(code); t != "" {
		return t
	}
	return "error"
}

// wantsJSON reports whether the error goes out as JSON (API and hooks) or as a page.
func wantsJSON(c *fiber.Ctx) bool {
	p := c.Path()
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/hooks/") || p == "/healthz" || p == "/readyz" ||
		strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := toError(err)
	if e.Status >= 500 {
		s.logger.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)), slog.String("method", c.Method()),
			slog.String("path", logPath(c.Path())), slog.String("error", err.Error()))
	}
	c.Status(e.Status)
	if wantsJSON(c) {
		return c.JSON(errorBody{Error: errorPayload{Code: e.Code, Message: e.Message, Details: e.Details}})
	}
	p := s.page(c, fiberStatusText(e.Status))
	return s.renderStatus(c, e.Status, errorPage(p, e))
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
