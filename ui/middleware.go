package ui

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes a well-formed X-Request-Id from the client or makes one,
// and echoes it on the response.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !requestIDPattern.MatchString(id) {
		id = auth.Token(12)
	}
	httpkit.SetRequestID(c, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

// DefaultRequestTimeout is how long a request's work may take before its
// context is cancelled (WAYMARK_REQUEST_TIMEOUT).
const DefaultRequestTimeout = 60 * time.Second

// requestIDKey carries the request id in a request's context, so that
// every log line written with that context names the request.
type requestIDKey struct{}

// requestContext gives the request a context of its own: its deadline is
// cfg.RequestTimeout, it is cancelled when the handler returns or the
// server shuts down, and it carries the request id. Handlers pass
// c.UserContext() down, so a query outlives neither. Work that must go
// on after the response (a streamed export, a background import) takes
// detachedContext.
func (s *Server) requestContext(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.WithValue(c.Context(), requestIDKey{}, httpkit.RequestID(c)), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// RequestIDFromContext returns the id of the request ctx belongs to, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID is a slog handler that adds request_id to every record
// logged with a request's context.
type withRequestID struct{ slog.Handler }

// LogHandler wraps h so that records logged with a request's context
// carry its request_id.
func LogHandler(h slog.Handler) slog.Handler { return withRequestID{h} }

func (h withRequestID) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFromContext(ctx); id != "" && !hasAttr(r, "request_id") {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h withRequestID) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withRequestID{h.Handler.WithAttrs(attrs)}
}

func (h withRequestID) WithGroup(name string) slog.Handler {
	return withRequestID{h.Handler.WithGroup(name)}
}

// accessLog writes one slog line per request (never bodies or secrets).
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Render the error now so the logged status is the one sent.
		if herr := s.errorHandler(c, err); herr != nil {
			s.logger.ErrorContext(c.UserContext(), "rendering error", slog.String("error", herr.Error()))
		}
		err = nil
	}
	status := c.Response().StatusCode()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.logger.LogAttrs(c.UserContext(), level, "http",
		slog.String("request_id", httpkit.RequestID(c)),
		slog.String("method", c.Method()),
		slog.String("path", httpkit.LogPath(c.Path())),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.String("ip", c.IP()),
	)
	return err
}

// securityHeaders sets a strict default policy: no inline scripts, no
// framing, no MIME sniffing.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.cfg.CookieSecure {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}
