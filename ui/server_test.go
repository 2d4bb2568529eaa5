package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

type testBundle struct {
	tasks  *taskRecorder
	engine *worker.Engine
	t      *testing.T
	ctx    context.Context
	store  *store.Store
	server *ui.Server
	redis  error         // what the redis readiness check answers
	logs   *lockedBuffer // everything the server logged
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	b := &testBundle{t: t, ctx: ctx, store: st, logs: &lockedBuffer{}}
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", SetupToken: "setup-token-123", BodyLimit: 64 << 10}, ui.Deps{
		Store:    st,
		Journeys: journeys.New(st, reg),
		Engine:   b.newEngine(reg),
		Hooks:    b.newHooks(),
		Logger:   slog.New(slog.NewTextHandler(io.MultiWriter(testLogWriter{t}, b.logs), nil)),
		Checks: []ui.Check{
			{Name: "database", Fn: st.Ping},
			{Name: "redis", Fn: func(context.Context) error { return b.redis }},
		},
	})
	require.NoError(t, err)
	b.server = srv
	return b
}

// listen serves the app on a loopback port and returns its base URL.
func (b *testBundle) listen() string {
	b.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b.t, err)
	go func() { _ = b.server.App().Listener(ln) }()
	b.t.Cleanup(func() { _ = b.server.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// client is a tiny cookie-keeping browser over app.Test.
type client struct {
	b       *testBundle
	cookies map[string]string
}

func (b *testBundle) client() *client { return &client{b: b, cookies: map[string]string{}} }

func (c *client) do(req *http.Request) *http.Response {
	c.b.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.b.server.App().Test(req, -1)
	require.NoError(c.b.t, err)
	for _, ck := range resp.Cookies() {
		if ck.Value == "" || ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Unix() <= 0) {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return resp
}

func (c *client) get(path string) (*http.Response, string) {
	resp := c.do(httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (c *client) postForm(path string, form url.Values) (*http.Response, string) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.do(req)
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func csrfFrom(t *testing.T, html string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(html)
	require.NotNil(t, m, "page has no CSRF field")
	return m[1]
}

func (b *testBundle) createUser(email, password string, role store.Role) store.User {
	b.t.Helper()
	hash, err := auth.HashPassword(password)
	require.NoError(b.t, err)
	u, err := b.store.CreateUser(b.ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: email, PasswordHash: hash, Role: role})
	require.NoError(b.t, err)
	return u
}

// login signs c in and returns the page's CSRF token for later forms.
func (c *client) login(email, password string) string {
	t := c.b.t
	t.Helper()
	_, page := c.get("/login")
	resp, _ := c.postForm("/login", url.Values{"_csrf": {csrfFrom(t, page)}, "email": {email}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page = c.get("/journeys")
	return csrfFrom(t, page)
}

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
	b := setup(t)
	c := b.client()
	resp, body := c.get("/healthz")
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, body)
	resp, body = c.get("/readyz")
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok","checks":{"database":"ok","redis":"ok"}}`, body)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

	b.redis = errors.New("dial tcp: connection refused")
	resp, body = c.get("/readyz")
	require.Equal(t, 503, resp.StatusCode)
	require.JSONEq(t, `{"status":"unavailable","checks":{"database":"ok","redis":"unavailable"}}`, body)
}

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("ada@example.com", "correct horse battery", store.RoleEditor)
	c := b.client()

	resp, _ := c.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next=%2Fjourneys", resp.Header.Get("Location"))

	resp, page := c.get("/login")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	tok := csrfFrom(t, page)
	require.NotEmpty(t, c.cookies["waymark_csrf"])

	// Missing or wrong CSRF token: refused, nothing happens.
	resp, _ = c.postForm("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, c.cookies["waymark_session"])
	resp, _ = c.postForm("/login", url.Values{"_csrf": {"forged"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Empty fields and a wrong password re-render with errors.
	resp, page = c.postForm("/login", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="password-error"`)
	resp, page = c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ada@example.com"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Email or password is not right.")
	resp, page = c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"nobody@example.com"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Email or password is not right.", "unknown users get the same answer")

	// An open redirect in next= is neutralised.
	resp, _ = c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ADA@example.com"}, "password": {"correct horse battery"}, "next": {"//evil.example/x"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/journeys", resp.Header.Get("Location"))
	sessionCookie := c.cookies["waymark_session"]
	require.NotEmpty(t, sessionCookie)
	require.Empty(t, c.cookies["waymark_csrf"], "the pre-login CSRF cookie is dropped")
	setCookie := resp.Header.Values("Set-Cookie")
	require.True(t, anyContains(setCookie, "waymark_session="), "%v", setCookie)
	require.True(t, anyContains(setCookie, "HttpOnly"), "%v", setCookie)
	require.True(t, anyContains(setCookie, "SameSite=Lax"), "%v", setCookie)

	resp, page = c.get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="current-user">ada@example.com<`)
	sessTok := csrfFrom(t, page)
	require.NotEqual(t, tok, sessTok, "the session has its own CSRF token")

	// Logging out needs the session's token, then kills the session server-side.
	resp, _ = c.postForm("/logout", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.postForm("/logout", url.Values{"_csrf": {sessTok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login", resp.Header.Get("Location"))

	stolen := b.client()
	stolen.cookies["waymark_session"] = sessionCookie
	resp, _ = stolen.get("/journeys")
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
	b := setup(t)
	b.createUser("ada@example.com", "correct horse battery", store.RoleAdmin)
	c := b.client()
	tok := c.login("ada@example.com", "correct horse battery")
	req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{"_csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp := c.do(req)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.get("/journeys")
	require.Equal(t, 200, resp.StatusCode, "still signed in: the forged logout did nothing")
}

func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client()
	resp, _ := c.get("/setup/wrong")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, page := c.get("/setup/setup-token-123")
	require.Equal(t, 200, resp.StatusCode)
	tok := csrfFrom(t, page)

	resp, page = c.postForm("/setup/setup-token-123", url.Values{"_csrf": {tok}, "email": {"not-an-email"}, "name": {""}, "password": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="name-error"`)
	require.Contains(t, page, "at least 12 characters")
	n, err := b.store.CountUsers(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing created from a bad form")

	resp, _ = c.postForm("/setup/setup-token-123", url.Values{"_csrf": {tok}, "email": {"root@example.com"}, "name": {"Root"}, "password": {"a long enough password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	u, err := b.store.GetUserByEmail(b.ctx, "root@example.com")
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, u.Role)
	resp, page = c.get("/journeys")
	require.Equal(t, 200, resp.StatusCode, "signed in straight away")
	require.Contains(t, page, "root@example.com")
	audit, err := b.store.ListAudit(b.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "user.create"})
	require.NoError(t, err)
	require.Len(t, audit, 1)

	// The link works once.
	other := b.client()
	resp, _ = other.get("/setup/setup-token-123")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestAPIAuthAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client()
	key, prefix, hash := auth.NewAPIKey()
	k, err := b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: "ci", Prefix: prefix, KeyHash: hash, Scopes: []string{"events:write"}})
	require.NoError(t, err)

	api := func(method, path, key string, body io.Reader) *http.Response {
		req := httptest.NewRequest(method, path, body)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", "application/json")
		return c.do(req)
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
	base := b.listen()
	req, err := http.NewRequest("POST", base+"/api/v1/whoami", strings.NewReader(strings.Repeat("x", 100<<10)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	code, _ = decodeError(t, resp)
	require.Equal(t, "body_too_large", code)

	require.NoError(t, b.store.RevokeAPIKey(b.ctx, store.DefaultWorkspaceID, k.ID))
	resp = api("GET", "/api/v1/whoami", key, nil)
	require.Equal(t, 401, resp.StatusCode)
}

func TestEscapingAndHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("ada@example.com", "correct horse battery", store.RoleViewer)
	_, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: `<img src=x onerror=alert(1)>`, Draft: []byte(`{}`)})
	require.NoError(t, err)
	c := b.client()
	c.login("ada@example.com", "correct horse battery")
	resp, page := c.get("/journeys")
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "<img src=x")
	require.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	resp, _ = c.get("/journeys?status=bogus")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Static assets are served under content-hashed URLs with long caching.
	css := regexp.MustCompile(`href="(/static/[0-9a-f]+/app\.css)"`).FindStringSubmatch(page)
	require.NotNil(t, css)
	resp, body := c.get(css[1])
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
	require.Contains(t, body, ":root")
	resp, _ = c.get("/static/000000000000/app.css")
	require.Equal(t, 404, resp.StatusCode)
}
