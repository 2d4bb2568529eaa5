package ui

import (
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
)

// AccessKind says who may call a route.
type AccessKind string

// Access kinds.
const (
	// AccessPublic needs no credentials (probes, assets, login, signed hooks,
	// one-time links). The handler itself checks any token in the URL.
	AccessPublic AccessKind = "public"
	// AccessUser needs a signed-in user whose role grants Need.
	AccessUser AccessKind = "user"
	// AccessAPI needs an API key carrying scope Need ("" = any valid key).
	AccessAPI AccessKind = "api"
)

// Permissions a role grants in the UI (the roles' table is
// httpkit.RoleAllows).
const (
	PermSignedIn      = httpkit.PermSignedIn      // any signed-in user (sign out, own account)
	PermJourneysRead  = httpkit.PermJourneysRead  // journeys, versions, runs, reports
	PermJourneysWrite = httpkit.PermJourneysWrite // create, edit, publish, pause, archive; templates
	PermProfilesRead  = httpkit.PermProfilesRead  // profiles and their attributes, the test inbox
	PermProfilesWrite = httpkit.PermProfilesWrite // import, erase
	PermAdmin         = httpkit.PermAdmin         // users, roles, sessions, API keys, connectors, audit log
)

// RoleAllows reports whether role grants perm.
func RoleAllows(role store.Role, perm string) bool { return httpkit.RoleAllows(role, perm) }

// Access is one route's entry in the permission table.
type Access struct {
	Kind AccessKind
	Need string // permission (AccessUser) or scope (AccessAPI)
}

func public() Access            { return Access{Kind: AccessPublic} }
func user(perm string) Access   { return Access{Kind: AccessUser, Need: perm} }
func apiScope(sc string) Access { return Access{Kind: AccessAPI, Need: sc} }
func (a Access) String() string { return string(a.Kind) + ":" + a.Need }

// routeTable is the single route → permission table. Every route the
// server registers must have an entry (HEAD uses GET's): a route without
// one is refused at run time and fails TestEveryRouteHasPermission.
var routeTable = map[string]Access{
	// Probes and assets.
	"GET /healthz":             public(),
	"GET /readyz":              public(),
	"GET /metrics":             public(), // counts only; block it at the proxy (docs/analytics.md)
	"GET /static/*":            public(),
	"POST /hooks/:key":         public(), // HMAC-signed (ui/ingest)
	"GET /api/v1/openapi.json": public(), // the API's description (ui/openapi.go, ui/internal/openapi)

	// Segment-spec intake: the API key comes as the Basic username or the
	// body's writeKey, checked by the handler (events:write; profile writes
	// also profiles:write): ui/ingest/segmentspec.go, docs/cdp.md.
	"POST /v1/:call":    public(),
	"OPTIONS /v1/:call": public(), // CORS preflight of analytics.js

	// Public pages of the UI (CSRF still applies to their POSTs).
	"GET /login":                public(),
	"POST /login":               public(),
	"POST /reauth":              public(), // sign in again from a page's dialog; throttled as /login is (ui/web/auth_login.go)
	"GET /setup/:token":         public(), // one-time first-run token
	"POST /setup/:token":        public(),
	"GET /invite/:token":        public(), // one-time invitation link
	"POST /invite/:token":       public(),
	"GET /reset/:token":         public(), // one-time password reset link
	"POST /reset/:token":        public(),
	"GET /u/:token":             public(), // signed unsubscribe token
	"POST /u/:token":            public(),
	"POST /callbacks/:type/:id": public(), // provider callbacks, verified by the connector
	"GET /t/o/:token":           public(), // email open pixel, HMAC-signed token (ui/ingest/tracking.go)
	"GET /t/c/:token":           public(), // email click redirect, HMAC-signed token

	// Signed-in users.
	"POST /logout": user(PermSignedIn),
	"GET /":        user(PermSignedIn),

	// Journeys (ui/web/routes.go).
	"GET /journeys": user(PermJourneysRead),
	// Broadcasts (ui/web/broadcasts.go, ui/api/broadcasts.go): editors send and cancel.
	"GET /broadcasts":                     user(PermJourneysRead),
	"GET /broadcasts/new":                 user(PermJourneysWrite),
	"POST /broadcasts":                    user(PermJourneysWrite),
	"GET /broadcasts/:id":                 user(PermJourneysRead),
	"GET /broadcasts/:id/progress":        user(PermJourneysRead),
	"POST /broadcasts/:id/cancel":         user(PermJourneysWrite),
	"GET /api/v1/broadcasts":              apiScope(auth.ScopeJourneysRead),
	"POST /api/v1/broadcasts":             apiScope(auth.ScopeJourneysWrite),
	"GET /api/v1/broadcasts/:id":          apiScope(auth.ScopeJourneysRead),
	"POST /api/v1/broadcasts/:id/cancel":  apiScope(auth.ScopeJourneysWrite),
	"GET /journeys/new":                   user(PermJourneysWrite),
	"POST /journeys":                      user(PermJourneysWrite),
	"POST /journeys/copy":                 user(PermJourneysWrite),
	"GET /journeys/:id/edit":              user(PermJourneysRead),
	"GET /journeys/:id/history":           user(PermJourneysRead),
	"GET /journeys/:id/stats.json":        user(PermJourneysRead), // the canvas counters (ui/web/journey_stats.go)
	"GET /journeys/:id/versions/:version": user(PermJourneysRead),
	"GET /journeys/:id/report":            user(PermJourneysRead), // SVG charts (ui/web/journey_report.go)
	"GET /journeys/:id/runs.csv":          user(PermJourneysRead), // email/phone columns for profiles:read only (ui/internal/httpkit/csv.go)
	"GET /journeys/:id/deliveries.csv":    user(PermJourneysRead), // recipient/subject columns for profiles:read only
	"POST /journeys/:id/draft":            user(PermJourneysWrite),
	"GET /journeys/:id/publish":           user(PermJourneysWrite),
	"POST /journeys/:id/publish":          user(PermJourneysWrite),
	"POST /journeys/:id/duplicate":        user(PermJourneysWrite),
	"POST /journeys/:id/pause":            user(PermJourneysWrite),
	"POST /journeys/:id/resume":           user(PermJourneysWrite),
	"POST /journeys/:id/archive":          user(PermJourneysWrite),
	"POST /journeys/:id/panel/node":       user(PermJourneysRead), // renders a (read-only for viewers) form
	"POST /journeys/:id/panel/settings":   user(PermJourneysRead),
	"POST /journeys/:id/panel/preview":    user(PermJourneysRead),
	"GET /journeys/:id/panel/profiles":    user(PermProfilesRead), // "Preview as": finds profiles by email or id
	// The trigger panel (ui/web/trigger_panel.go): everyone who may open
	// the journey sees its hook URL; the signing secret is for those who
	// may edit it; a test request's body is personal data.
	"GET /journeys/:id/hook":         user(PermJourneysRead),
	"POST /journeys/:id/hook/reveal": user(PermJourneysWrite),
	"POST /journeys/:id/hook/rotate": user(PermJourneysWrite), // audited
	"POST /journeys/:id/hook/scheme": user(PermJourneysWrite), // audited
	"POST /journeys/:id/hook/listen": user(PermProfilesRead),
	"GET /journeys/:id/hook/samples": user(PermProfilesRead),

	// Connectors and the test inbox (ui/web/connector_*.go).
	"GET /connectors":              user(PermAdmin),
	"GET /connectors/new":          user(PermAdmin),
	"POST /connectors":             user(PermAdmin),
	"GET /connectors/:id":          user(PermAdmin),
	"POST /connectors/:id":         user(PermAdmin),
	"POST /connectors/:id/test":    user(PermAdmin),
	"POST /connectors/:id/enable":  user(PermAdmin),
	"POST /connectors/:id/disable": user(PermAdmin),
	"POST /connectors/:id/delete":  user(PermAdmin),
	"GET /test-inbox":              user(PermProfilesRead),
	"GET /test-inbox/:id":          user(PermProfilesRead),
	"GET /test-inbox/:id/body":     user(PermProfilesRead),

	// Run explorer, Profiles page and profile page (ui/web/run_explorer.go,
	// profile_list.go). Cancel and retry are editors' and admins'
	// (audited); profiles need profiles:read.
	"GET /runs":                  user(PermJourneysRead),
	"GET /runs/:id":              user(PermJourneysRead), // recipients, subjects, entry for profiles:read only
	"POST /runs/:id/cancel":      user(PermJourneysWrite),
	"POST /runs/:id/retry":       user(PermJourneysWrite),
	"POST /runs/:id/move":        user(PermAdmin),
	"GET /profiles":              user(PermProfilesRead), // search and filter (ui/web/profile_list.go)
	"GET /profiles/:external_id": user(PermProfilesRead),

	// Profile import (ui/web/profile_import.go): writes profiles, so admins.
	"GET /profiles/import":              user(PermProfilesWrite),
	"POST /profiles/import":             user(PermProfilesWrite),
	"POST /profiles/import/:id/start":   user(PermProfilesWrite),
	"GET /profiles/import/:id":          user(PermProfilesWrite),
	"GET /profiles/import/:id/progress": user(PermProfilesWrite),

	// Administration (ui/web: users_admin.go, sessions_admin.go, audit_log.go, apikeys_admin.go).
	"GET /users":                   user(PermAdmin),
	"POST /users/invite":           user(PermAdmin),
	"POST /users/:id/role":         user(PermAdmin),
	"POST /users/:id/disable":      user(PermAdmin),
	"POST /users/:id/enable":       user(PermAdmin),
	"POST /users/:id/reset":        user(PermAdmin),
	"GET /sessions":                user(PermAdmin),
	"POST /sessions/:id/revoke":    user(PermAdmin),
	"GET /audit":                   user(PermAdmin),
	"GET /admin/operations":        user(PermAdmin), // queues, workers, stuck runs (ui/web/operations.go)
	"POST /admin/operations/retry": user(PermAdmin), // bulk retry, audited
	"GET /audit.csv":               user(PermAdmin),
	"GET /api-keys":                user(PermAdmin),
	"POST /api-keys":               user(PermAdmin),
	"POST /api-keys/:id/revoke":    user(PermAdmin),

	// JSON API (API keys). "" = any valid key.
	"GET /api/v1/whoami":                         apiScope(""),
	"GET /api/v1/nodes":                          apiScope(""),
	"POST /api/v1/journeys/validate":             apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys":                       apiScope(auth.ScopeJourneysRead),
	"POST /api/v1/journeys":                      apiScope(auth.ScopeJourneysWrite),
	"GET /api/v1/journeys/:id":                   apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/export":            apiScope(auth.ScopeJourneysRead),
	"PUT /api/v1/journeys/:id/draft":             apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/journeys/:id/publish":          apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/journeys/:id/pause":            apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/journeys/:id/resume":           apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/journeys/:id/archive":          apiScope(auth.ScopeJourneysWrite),
	"GET /api/v1/journeys/:id/versions":          apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/versions/:version": apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/diff":              apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/stats":             apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/runs.csv":          apiScope(auth.ScopeJourneysRead), // personal columns need profiles:read
	"GET /api/v1/journeys/:id/deliveries.csv":    apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/journeys/:id/hook":              apiScope(auth.ScopeAdmin), // the signing secrets
	"PUT /api/v1/journeys/:id/hook":              apiScope(auth.ScopeAdmin),
	"POST /api/v1/journeys/:id/hook/rotate":      apiScope(auth.ScopeAdmin),
	"POST /api/v1/events":                        apiScope(auth.ScopeEventsWrite), // an event's "profile" also needs profiles:write (ui/ingest/events.go)
	"POST /api/v1/profiles":                      apiScope(auth.ScopeProfilesWrite),
	"GET /api/v1/profiles/:external_id":          apiScope(auth.ScopeProfilesRead),
	"GET /api/v1/profiles/:external_id/export":   apiScope(auth.ScopeProfilesRead),
	"DELETE /api/v1/profiles/:external_id":       apiScope(auth.ScopeProfilesWrite), // erasure
	"GET /api/v1/journeys/:id/triggers":          apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/runs":                           apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/runs/:id":                       apiScope(auth.ScopeJourneysRead), // recipients, subjects, entry need profiles:read (ui/api/runs.go)
	"POST /api/v1/runs/:id/cancel":               apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/runs/:id/retry":                apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/runs/:id/move":                 apiScope(auth.ScopeAdmin),
	"GET /api/v1/connector-types":                apiScope(auth.ScopeAdmin),
	"GET /api/v1/connectors":                     apiScope(auth.ScopeAdmin),
	"POST /api/v1/connectors":                    apiScope(auth.ScopeAdmin),
	"GET /api/v1/connectors/:id":                 apiScope(auth.ScopeAdmin),
	"PATCH /api/v1/connectors/:id":               apiScope(auth.ScopeAdmin),
	"DELETE /api/v1/connectors/:id":              apiScope(auth.ScopeAdmin),
	"POST /api/v1/connectors/:id/test":           apiScope(auth.ScopeAdmin),
	"GET /api/v1/sandbox/messages":               apiScope(auth.ScopeAdmin),
	"GET /api/v1/suppressions":                   apiScope(auth.ScopeAdmin),
	"POST /api/v1/suppressions":                  apiScope(auth.ScopeAdmin),
	"DELETE /api/v1/suppressions":                apiScope(auth.ScopeAdmin),

	// Simulator, test sends and replay (ui/api, ui/web).
	"POST /api/v1/journeys/:id/simulate": apiScope(auth.ScopeJourneysRead), // existing profiles also need profiles:read (ui/internal/httpkit/simulate.go)
	"POST /journeys/:id/simulate":        user(PermJourneysRead),           // the editor's Simulate panel (JSON)

	// Migration planner and rollback (ui/api/publish.go, ui/web/journey_publish.go).
	"POST /api/v1/journeys/:id/rollback":  apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/journeys/:id/test-send": apiScope(auth.ScopeJourneysWrite), // sends a real message
	"GET /api/v1/journeys/:id/test-sends": apiScope(auth.ScopeJourneysRead),
	"POST /journeys/:id/rollback":         user(PermJourneysWrite),
	"POST /journeys/:id/test-send":        user(PermJourneysWrite), // the property panel's "Send test"

	// Self-optimising split, best-time delivery, lift (ui/api/intelligence.go, ui/web/intelligence.go).
	"GET /api/v1/journeys/:id/lift":            apiScope(auth.ScopeJourneysRead),
	"GET /journeys/:id/splits.json":            user(PermJourneysRead),  // the canvas's bandit numbers
	"POST /journeys/:id/splits/:node/freeze":   user(PermJourneysWrite), // freeze the winner (audited)
	"POST /journeys/:id/splits/:node/unfreeze": user(PermJourneysWrite),

	// Saved segments (ui/api/segments.go, ui/web/segments.go): read and
	// estimate with journeys read (the sample also needs profiles read),
	// change with journeys write.
	"GET /api/v1/segments":           apiScope(auth.ScopeJourneysRead),
	"POST /api/v1/segments":          apiScope(auth.ScopeJourneysWrite),
	"POST /api/v1/segments/estimate": apiScope(auth.ScopeJourneysRead),
	"GET /api/v1/segments/:id":       apiScope(auth.ScopeJourneysRead),
	"PUT /api/v1/segments/:id":       apiScope(auth.ScopeJourneysWrite),
	"DELETE /api/v1/segments/:id":    apiScope(auth.ScopeJourneysWrite),
	"GET /segments":                  user(PermJourneysRead),
	"GET /segments/new":              user(PermJourneysRead), // viewers see the builder read-only
	"POST /segments":                 user(PermJourneysWrite),
	"POST /segments/estimate":        user(PermJourneysRead), // changes nothing
	"GET /segments/:id":              user(PermJourneysRead),
	"POST /segments/:id":             user(PermJourneysWrite),
	"GET /segments/:id/count":        user(PermJourneysRead),
	"POST /segments/:id/delete":      user(PermJourneysWrite),
}

// RoutePermission returns the table entry for a registered route (method
// and path as registered, e.g. "GET", "/journeys/:id/edit").
func RoutePermission(method, path string) (Access, bool) {
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	a, ok := routeTable[method+" "+path]
	return a, ok
}

// PermissionTable returns the table as sorted "METHOD path → access" lines
// (for docs and tests).
func PermissionTable() []string {
	out := make([]string, 0, len(routeTable))
	for k, a := range routeTable {
		out = append(out, k+" → "+a.String())
	}
	sort.Strings(out)
	return out
}

// guard enforces a route's table entry. It runs after loadSession/csrf (UI)
// or apiAuth (API) and before the route's own handlers.
func (s *Server) guard(method, path string) fiber.Handler {
	a, ok := RoutePermission(method, path)
	if !ok {
		s.unmapped = append(s.unmapped, method+" "+path)
		s.logger.Error("route has no permission entry; refusing it", slog.String("method", method), slog.String("path", path))
		return func(c *fiber.Ctx) error {
			return httpkit.NewError(fiber.StatusForbidden, "no_permission_entry", "%s %s has no entry in the permission table", method, path)
		}
	}
	switch a.Kind {
	case AccessPublic:
		return func(c *fiber.Ctx) error { return c.Next() }
	case AccessAPI:
		return func(c *fiber.Ctx) error {
			k, ok := httpkit.APIKey(c), httpkit.HasAPIKey(c)
			if !ok {
				return httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
			}
			if a.Need != "" && !k.HasScope(a.Need) {
				return httpkit.NewError(fiber.StatusForbidden, "insufficient_scope", "this API key lacks the %q scope", a.Need)
			}
			return c.Next()
		}
	case AccessUser:
		return func(c *fiber.Ctx) error {
			u, ok := httpkit.User(c)
			if !ok {
				if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
					return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
				}
				return httpkit.NewError(fiber.StatusUnauthorized, "unauthenticated", "sign in first")
			}
			if !httpkit.RoleAllows(u.Role, a.Need) {
				return httpkit.NewError(fiber.StatusForbidden, "forbidden", "your role (%s) does not have the %q permission; ask an admin", u.Role, a.Need)
			}
			return c.Next()
		}
	}
	panic(fmt.Sprintf("unknown access kind %q", a.Kind))
}

// guardedRouter registers every route behind its permission-table guard.
// Route files receive it as a fiber.Router and register routes as usual.
type guardedRouter struct {
	fiber.Router
	s      *Server
	prefix string
}

func (s *Server) guarded(r fiber.Router, prefix string) *guardedRouter {
	return &guardedRouter{Router: r, s: s, prefix: prefix}
}

func (g *guardedRouter) add(method, path string, handlers []fiber.Handler) fiber.Router {
	full := g.prefix + path
	if full != "/" {
		full = strings.TrimSuffix(full, "/")
	}
	hs := append([]fiber.Handler{g.s.guard(method, full)}, handlers...)
	g.Router.Add(method, path, hs...)
	return g
}

func (g *guardedRouter) Get(path string, handlers ...fiber.Handler) fiber.Router {
	g.add(fiber.MethodHead, path, handlers)
	return g.add(fiber.MethodGet, path, handlers)
}
func (g *guardedRouter) Head(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodHead, path, h)
}
func (g *guardedRouter) Post(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodPost, path, h)
}
func (g *guardedRouter) Put(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodPut, path, h)
}
func (g *guardedRouter) Delete(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodDelete, path, h)
}
func (g *guardedRouter) Patch(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodPatch, path, h)
}
func (g *guardedRouter) Connect(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodConnect, path, h)
}
func (g *guardedRouter) Options(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodOptions, path, h)
}
func (g *guardedRouter) Trace(path string, h ...fiber.Handler) fiber.Router {
	return g.add(fiber.MethodTrace, path, h)
}
func (g *guardedRouter) Add(method, path string, h ...fiber.Handler) fiber.Router {
	return g.add(method, path, h)
}

// All registers path for every method, each behind its own guard (methods
// without an entry are refused).
func (g *guardedRouter) All(path string, h ...fiber.Handler) fiber.Router {
	for _, m := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete, fiber.MethodPatch, fiber.MethodOptions} {
		g.add(m, path, h)
	}
	return g
}

func (g *guardedRouter) Group(prefix string, handlers ...fiber.Handler) fiber.Router {
	return &guardedRouter{Router: g.Router.Group(prefix, handlers...), s: g.s, prefix: g.prefix + prefix}
}

func (g *guardedRouter) Route(prefix string, fn func(router fiber.Router), name ...string) fiber.Router {
	fn(g.Group(prefix))
	return g
}

// Static would serve files without a guard; assets go through a GET route.
func (g *guardedRouter) Static(prefix, root string, config ...fiber.Static) fiber.Router {
	panic("ui: Static bypasses the permission table; register a GET route instead")
}

// Mount would attach routes without guards.
func (g *guardedRouter) Mount(prefix string, app *fiber.App) fiber.Router {
	panic("ui: Mount bypasses the permission table")
}
