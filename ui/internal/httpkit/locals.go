package httpkit

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
)

// The request's locals: set by the middleware that knows them (request id,
// session and user, API key), read by handlers.
type localKey int

const (
	localRequestID localKey = iota
	localSession
	localUser
	localAnonCSRF
	localAPIKey
)

// SetRequestID records the request's id.
func SetRequestID(c *fiber.Ctx, id string) { c.Locals(localRequestID, id) }

// RequestID is the request's id ("" before the request-id middleware).
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// SetSession records the signed-in user and their session.
func SetSession(c *fiber.Ctx, sess store.Session, u store.User) {
	c.Locals(localSession, sess)
	c.Locals(localUser, u)
}

// User is the signed-in user, if any.
func User(c *fiber.Ctx) (store.User, bool) {
	u, ok := c.Locals(localUser).(store.User)
	return u, ok
}

// Session is the signed-in user's session, if any.
func Session(c *fiber.Ctx) (store.Session, bool) {
	sess, ok := c.Locals(localSession).(store.Session)
	return sess, ok
}

// SetAnonCSRF records a signed-out visitor's CSRF token for this request.
func SetAnonCSRF(c *fiber.Ctx, tok string) { c.Locals(localAnonCSRF, tok) }

// AnonCSRF is the signed-out visitor's CSRF token set for this request.
func AnonCSRF(c *fiber.Ctx) (string, bool) {
	tok, ok := c.Locals(localAnonCSRF).(string)
	return tok, ok
}

// SetAPIKey records the API key the request authenticated with.
func SetAPIKey(c *fiber.Ctx, k store.APIKey) { c.Locals(localAPIKey, k) }

// APIKey is the API key the request authenticated with (zero without one).
func APIKey(c *fiber.Ctx) store.APIKey {
	k, _ := c.Locals(localAPIKey).(store.APIKey)
	return k
}

// HasAPIKey reports whether the request authenticated with an API key.
func HasAPIKey(c *fiber.Ctx) bool {
	_, ok := c.Locals(localAPIKey).(store.APIKey)
	return ok
}

// Workspace is the signed-in user's workspace.
func Workspace(c *fiber.Ctx) string {
	u, _ := User(c)
	return u.WorkspaceID
}

// ActorName is how a signed-in user appears in created_by and updated_by.
func ActorName(c *fiber.Ctx) string {
	u, _ := User(c)
	return u.Email
}

// KeyActor names who makes an API change, for created_by and the audit log.
func KeyActor(c *fiber.Ctx) string {
	k := APIKey(c)
	return "api_key:" + k.Name
}

// DetachedContext is the request's context without its cancellation and
// deadline (the request id stays), bounded by limit instead: for work a
// handler starts that finishes after it returns.
func DetachedContext(c *fiber.Ctx, limit time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.UserContext()), limit)
}

// ExportTimeout bounds a streamed CSV export, which outlives its handler.
const ExportTimeout = 30 * time.Minute

// tokenPathPrefixes are the paths whose last segment is a secret: a
// one-time link or an unsubscribe token. LogPath hides it.
var tokenPathPrefixes = []string{"/invite/", "/reset/", "/u/"}

// LogPath is p as logs may show it: one-time and unsubscribe tokens are
// replaced by "…".
func LogPath(p string) string {
	for _, pre := range tokenPathPrefixes {
		if rest, ok := strings.CutPrefix(p, pre); ok && rest != "" {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return pre + "…" + rest[i:]
			}
			return pre + "…"
		}
	}
	return p
}
