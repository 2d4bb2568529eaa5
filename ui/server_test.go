package ui_test

import (
	"encoding/json"
	"errors"
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
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func decodeError(t *testing.T, resp *http.Response) (code, message string) {
	t.Helper()
	require.Equal(t, "application/json", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotEmpty(t, body.Error.Code)
	return body.Error.Code, body.Error.Message
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.Client()
	resp, body := c.Get("/healthz")
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, body)
	resp, body = c.Get("/readyz")
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok","checks":{"database":"ok","redis":"ok"}}`, body)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

	b.Redis = errors.New("dial tcp: connection refused")
	resp, body = c.Get("/readyz")
	require.Equal(t, 503, resp.StatusCode)
	require.JSONEq(t, `{"status":"unavailable","checks":{"database":"ok","redis":"unavailable"}}`, body)
}

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()

	resp, _ := c.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next=%2Fjourneys", resp.Header.Get("Location"))

	resp, page := c.Get("/login")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	tok := uitest.CSRFFrom(t, page)
	require.NotEmpty(t, c.Cookies["waymark_csrf"])

	// Missing or wrong CSRF token: refused, nothing happens.
	resp, _ = c.PostForm("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, c.Cookies["waymark_session"])
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {"forged"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Empty fields and a wrong password re-render with errors.
	resp, page = c.PostForm("/login", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="password-error"`)
	resp, page = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ada@example.com"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Email or password is not right.")
	resp, page = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"nobody@example.com"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Email or password is not right.", "unknown users get the same answer")

	// An open redirect in next= is neutralised.
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ADA@example.com"}, "password": {"correct horse battery"}, "next": {"//evil.example/x"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/journeys", resp.Header.Get("Location"))
	sessionCookie := c.Cookies["waymark_session"]
	require.NotEmpty(t, sessionCookie)
	require.Empty(t, c.Cookies["waymark_csrf"], "the pre-login CSRF cookie is dropped")
	setCookie := resp.Header.Values("Set-Cookie")
	require.True(t, anyContains(setCookie, "waymark_session="), "%v", setCookie)
	require.True(t, anyContains(setCookie, "HttpOnly"), "%v", setCookie)
	require.True(t, anyContains(setCookie, "SameSite=Lax"), "%v", setCookie)

	resp, page = c.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="current-user">ada@example.com<`)
	sessTok := uitest.CSRFFrom(t, page)
	require.NotEqual(t, tok, sessTok, "the session has its own CSRF token")

	// Logging out needs the session's token, then kills the session server-side.
	resp, _ = c.PostForm("/logout", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.PostForm("/logout", url.Values{"_csrf": {sessTok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login", resp.Header.Get("Location"))

	stolen := b.Client()
	stolen.Cookies["waymark_session"] = sessionCookie
	resp, _ = stolen.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a session cookie is dead after logout")
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestCSRFForeignOrigin(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleAdmin)
	c := b.Client()
	tok := c.Login("ada@example.com", "correct horse battery")
	req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{"_csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp := c.Do(req)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode, "still signed in: the forged logout did nothing")
}

func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.Client()
	resp, _ := c.Get("/setup/wrong")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, page := c.Get("/setup/setup-token-123")
	require.Equal(t, 200, resp.StatusCode)
	tok := uitest.CSRFFrom(t, page)

	resp, page = c.PostForm("/setup/setup-token-123", url.Values{"_csrf": {tok}, "email": {"not-an-email"}, "name": {""}, "password": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="name-error"`)
	require.Contains(t, page, "at least 12 characters")
	n, err := b.Store.CountUsers(b.Ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing created from a bad form")

	resp, _ = c.PostForm("/setup/setup-token-123", url.Values{"_csrf": {tok}, "email": {"root@example.com"}, "name": {"Root"}, "password": {"a long enough password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	u, err := b.Store.GetUserByEmail(b.Ctx, "root@example.com")
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, u.Role)
	resp, page = c.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode, "signed in straight away")
	require.Contains(t, page, "root@example.com")
	audit, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "user.create"})
	require.NoError(t, err)
	require.Len(t, audit, 1)

	// The link works once.
	other := b.Client()
	resp, _ = other.Get("/setup/setup-token-123")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestAPIAuthAndErrors(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	c := b.Client()
	key, prefix, hash := auth.NewAPIKey()
	k, err := b.Store.CreateAPIKey(b.Ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: "ci", Prefix: prefix, KeyHash: hash, Scopes: []string{"events:write"}})
	require.NoError(t, err)

	api := func(method, path, key string, body io.Reader) *http.Response {
		req := httptest.NewRequest(method, path, body)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/json")
		return c.Do(req)
	}
	resp := api("GET", "/api/v1/whoami", "", nil)
	require.Equal(t, 401, resp.StatusCode)
	code, _ := decodeError(t, resp)
	require.Equal(t, "unauthenticated", code)

	resp = api("GET", "/api/v1/whoami", "wmk_nope", nil)
	require.Equal(t, 401, resp.StatusCode)
	code, _ = decodeError(t, resp)
	require.Equal(t, "invalid_api_key", code)

	resp = api("GET", "/api/v1/whoami", key, nil)
	require.Equal(t, 200, resp.StatusCode)
	var who struct {
		APIKey struct {
			Name   string   `json:"name"`
			Scopes []string `json:"scopes"`
		} `json:"api_key"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&who))
	require.Equal(t, "ci", who.APIKey.Name)

	resp = api("GET", "/api/v1/nope", key, nil)
	require.Equal(t, 404, resp.StatusCode)
	code, _ = decodeError(t, resp)
	require.Equal(t, "not_found", code)

	// A body over the limit is a 413 in the JSON error shape, not a 500.
	// (app.Test cannot show this: fasthttp rejects the body before the app.)
	base := b.Listen()
	req, err := http.NewRequest("POST", base+"/api/v1/whoami", strings.NewReader(strings.Repeat("x", 100<<10)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	code, _ = decodeError(t, resp)
	require.Equal(t, "body_too_large", code)

	require.NoError(t, b.Store.RevokeAPIKey(b.Ctx, store.DefaultWorkspaceID, k.ID))
	resp = api("GET", "/api/v1/whoami", key, nil)
	require.Equal(t, 401, resp.StatusCode)
}

func TestEscapingAndHeaders(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleViewer)
	_, err := b.Store.CreateJourney(b.Ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: `<img src=x onerror=alert(1)>`, Draft: []byte(`{}`)})
	require.NoError(t, err)
	c := b.Client()
	c.Login("ada@example.com", "correct horse battery")
	resp, page := c.Get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "<img src=x")
	require.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	resp, _ = c.Get("/journeys?status=bogus")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Static assets are served under content-hashed URLs with long caching.
	css := regexp.MustCompile(`href="(/static/[0-9a-f]+/app\.css)"`).FindStringSubmatch(page)
	require.NotNil(t, css)
	resp, body := c.Get(css[1])
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	require.Contains(t, body, ":root")
	resp, _ = c.Get("/static/000000000000/app.css")
	require.Equal(t, 404, resp.StatusCode)
}
