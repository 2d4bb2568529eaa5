package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

var routeParam = regexp.MustCompile(`:[a-z_]+|\*`)

// concretePath fills a route pattern with ids that exist nowhere.
func concretePath(pattern string) string {
	return routeParam.ReplaceAllStringFunc(pattern, func(p string) string {
		switch p {
		case ":version":
			return "1"
		case ":type":
			return "sandbox"
		case "*":
			return "000000000000/none.css"
		}
		return "0190f0f0-0000-7000-8000-000000000000"
	})
}

type probe struct {
	status int
	code   string
	loc    string
}

// send makes one request as c (cookies and, for UI writes, its CSRF
// token), or with an API key, asking for JSON errors.
func send(t *testing.T, c *uitest.Client, method, path, csrf, key string) probe {
	t.Helper()
	form := url.Values{}
	if csrf != "" {
		form.Set("_csrf", csrf)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Accept", "application/json")
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
	}
	resp := c.Do(req)
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return probe{status: resp.StatusCode, code: e.Error.Code, loc: resp.Header.Get("Location")}
}

// anonCSRF gives a signed-out client its double-submit CSRF token.
func anonCSRF(t *testing.T, c *uitest.Client) string {
	_, page := c.Get("/login")
	return uitest.CSRFFrom(t, page)
}

// TestEveryRouteHasPermission walks every registered route with each role,
// a signed-out browser, and an API key of each scope, and checks the
// answer against the permission table: allowed callers get past the guard
// (any status but 401/403), others get 303-to-login / 401 / 403. A route
// without a table entry fails the test. Every UI write also refuses a
// request without its CSRF token.
func TestEveryRouteHasPermission(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	const pw = "correct horse battery"
	roles := []store.Role{store.RoleViewer, store.RoleEditor, store.RoleAdmin}
	clients := map[store.Role]*uitest.Client{}
	tokens := map[store.Role]string{}
	for _, r := range roles {
		b.CreateUser(string(r)+"@example.com", pw, r)
		clients[r] = b.Client()
		tokens[r] = clients[r].Login(string(r)+"@example.com", pw)
	}
	anon := b.Client()
	anonTok := anonCSRF(t, anon)
	keys := map[string]string{}
	for _, sc := range auth.Scopes {
		keys[sc] = b.APIKey(store.DefaultWorkspaceID, sc)
	}

	routes := b.Server.App().GetRoutes(true)
	require.Greater(t, len(routes), 60)
	seen := 0
	registered := map[string]bool{}
	for _, rt := range routes {
		if rt.Method == http.MethodHead {
			_, ok := ui.RoutePermission(rt.Method, rt.Path)
			require.True(t, ok, "HEAD %s has no entry", rt.Path)
			continue
		}
		access, ok := ui.RoutePermission(rt.Method, rt.Path)
		require.True(t, ok, "%s %s has no entry in the permission table (ui/permissions.go routeTable): add one", rt.Method, rt.Path)
		seen++
		registered[rt.Method+" "+rt.Path] = true
		path := concretePath(rt.Path)
		name := rt.Method + " " + rt.Path
		isAPI := strings.HasPrefix(rt.Path, "/api/")
		isUI := !isAPI && ui.IsUIPath(rt.Path)
		write := rt.Method != http.MethodGet

		switch access.Kind {
		case ui.AccessPublic:
			tok := ""
			if isUI && write {
				tok = anonTok
			}
			p := send(t, anon, rt.Method, path, tok, "")
			require.NotContains(t, []int{401, 403}, p.status, "%s is public: %+v", name, p)
			if isUI && write {
				anonTok = anonCSRF(t, anon) // a successful public POST may rotate it
			}

		case ui.AccessUser:
			require.True(t, isUI, "%s: a user route outside the session/CSRF group", name)
			p := send(t, anon, rt.Method, path, anonTok, "")
			if write {
				require.Equal(t, 401, p.status, "%s anonymous: %+v", name, p)
			} else {
				require.Equal(t, 303, p.status, "%s anonymous: %+v", name, p)
				require.True(t, strings.HasPrefix(p.loc, "/login?next="), "%s anonymous: %+v", name, p)
			}
			for _, r := range roles {
				if write {
					// No CSRF token: refused before anything happens, whatever the role.
					p := send(t, clients[r], rt.Method, path, "", "")
					require.Equal(t, 403, p.status, "%s as %s without CSRF: %+v", name, r, p)
					require.Equal(t, "csrf", p.code, "%s as %s without CSRF", name, r)
				}
				p := send(t, clients[r], rt.Method, path, tokens[r], "")
				if ui.RoleAllows(r, access.Need) {
					require.NotContains(t, []int{401, 403}, p.status, "%s as %s must be allowed: %+v", name, r, p)
				} else {
					require.Equal(t, 403, p.status, "%s as %s must be refused: %+v", name, r, p)
					require.Equal(t, "forbidden", p.code, "%s as %s", name, r)
				}
				if rt.Path == "/logout" {
					tokens[r] = clients[r].Login(string(r)+"@example.com", pw)
				}
			}

		case ui.AccessAPI:
			require.True(t, isAPI, "%s: an API route outside /api/v1", name)
			p := send(t, anon, rt.Method, path, "", "")
			require.Equal(t, 401, p.status, "%s without a key: %+v", name, p)
			p = send(t, anon, rt.Method, path, "", "wmk_not-a-key")
			require.Equal(t, 401, p.status, "%s with a bad key: %+v", name, p)
			for sc, key := range keys {
				p := send(t, anon, rt.Method, path, "", key)
				if access.Need == "" || sc == access.Need || sc == auth.ScopeAdmin {
					require.NotContains(t, []int{401, 403}, p.status, "%s with scope %s must be allowed: %+v", name, sc, p)
				} else {
					require.Equal(t, 403, p.status, "%s with scope %s must be refused: %+v", name, sc, p)
					require.Equal(t, "insufficient_scope", p.code)
				}
			}
		default:
			t.Fatalf("%s: unknown access kind %q", name, access.Kind)
		}
	}
	var stale []string
	for _, line := range ui.PermissionTable() {
		if !registered[strings.SplitN(line, " → ", 2)[0]] {
			stale = append(stale, line)
		}
	}
	// Some routes exist only with optional collaborators (profiles, hooks,
	// connectors); entries for them are not errors, only listed.
	if len(stale) > 0 {
		t.Logf("table entries for routes this test server did not register:\n%s", strings.Join(stale, "\n"))
	}
	require.Equal(t, seen, len(registered))
}

// TestPermissionTablePins pins the decisions a loosened table would break.
func TestPermissionTablePins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		method, path string
		kind         ui.AccessKind
		need         string
	}{
		{"users are admin-only", "POST", "/users/:id/role", ui.AccessUser, ui.PermAdmin},
		{"audit is admin-only", "GET", "/audit.csv", ui.AccessUser, ui.PermAdmin},
		{"api keys are admin-only", "POST", "/api-keys", ui.AccessUser, ui.PermAdmin},
		{"sessions are admin-only", "POST", "/sessions/:id/revoke", ui.AccessUser, ui.PermAdmin},
		{"publishing needs journeys:write", "POST", "/journeys/:id/publish", ui.AccessUser, ui.PermJourneysWrite},
		{"connectors are admin-only", "POST", "/connectors/:id", ui.AccessUser, ui.PermAdmin},
		{"events need events:write", "POST", "/api/v1/events", ui.AccessAPI, auth.ScopeEventsWrite},
		{"profile reads need profiles:read", "GET", "/api/v1/profiles/:external_id", ui.AccessAPI, auth.ScopeProfilesRead},
		{"connector API is admin", "PATCH", "/api/v1/connectors/:id", ui.AccessAPI, auth.ScopeAdmin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := ui.RoutePermission(tc.method, tc.path)
			require.True(t, ok)
			require.Equal(t, tc.kind, a.Kind)
			require.Equal(t, tc.need, a.Need)
		})
	}
	require.False(t, ui.RoleAllows(store.RoleViewer, ui.PermJourneysWrite))
	require.False(t, ui.RoleAllows(store.RoleEditor, ui.PermAdmin))
	require.False(t, ui.RoleAllows(store.RoleEditor, ui.PermProfilesWrite))
	require.True(t, ui.RoleAllows(store.RoleEditor, ui.PermProfilesRead))
	require.False(t, ui.RoleAllows(store.RoleViewer, ui.PermProfilesRead))
}
