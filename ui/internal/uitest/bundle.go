package uitest

import (
	"context"
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

type Bundle struct {
	Tasks  *TaskRecorder
	Engine *worker.Engine
	T      *testing.T
	Ctx    context.Context
	Store  *store.Store
	Server *ui.Server
	Redis  error         // what the redis readiness check answers
	Logs   *LockedBuffer // everything the server logged
}

type LogWriter struct{ T *testing.T }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func Setup(t *testing.T) *Bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	b := &Bundle{T: t, Ctx: ctx, Store: st, Logs: &LockedBuffer{}}
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test", SetupToken: "setup-token-123", BodyLimit: 64 << 10}, ui.Deps{
		Store:    st,
		Journeys: journeys.New(st, reg),
		Engine:   b.NewEngine(reg),
		Hooks:    b.NewHooks(),
		Logger:   slog.New(slog.NewTextHandler(io.MultiWriter(LogWriter{t}, b.Logs), nil)),
		Checks: []ui.Check{
			{Name: "database", Fn: st.Ping},
			{Name: "redis", Fn: func(context.Context) error { return b.Redis }},
		},
	})
	require.NoError(t, err)
	b.Server = srv
	return b
}

// listen serves the app on a loopback port and returns its base URL.
func (b *Bundle) Listen() string {
	b.T.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b.T, err)
	go func() { _ = b.Server.App().Listener(ln) }()
	b.T.Cleanup(func() { _ = b.Server.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// client is a tiny cookie-keeping browser over app.Test.
type Client struct {
	B       *Bundle
	Cookies map[string]string
}

func (b *Bundle) Client() *Client {
	return &Client{B: b, Cookies: map[string]string{}}
}

func (c *Client) Do(req *http.Request) *http.Response {
	c.B.T.Helper()
	for k, v := range c.Cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.B.Server.App().Test(req, -1)
	require.NoError(c.B.T, err)
	for _, ck := range resp.Cookies() {
		if ck.Value == "" || ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Unix() <= 0) {
			delete(c.Cookies, ck.Name)
		} else {
			c.Cookies[ck.Name] = ck.Value
		}
	}
	return resp
}

func (c *Client) Get(path string) (*http.Response, string) {
	resp := c.Do(httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (c *Client) PostForm(path string, form url.Values) (*http.Response, string) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.Do(req)
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var CSRFField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func CSRFFrom(t *testing.T, html string) string {
	t.Helper()
	m := CSRFField.FindStringSubmatch(html)
	require.NotNil(t, m, "page has no CSRF field")
	return m[1]
}

func (b *Bundle) CreateUser(email, password string, role store.Role) store.User {
	b.T.Helper()
	hash, err := auth.HashPassword(password)
	require.NoError(b.T, err)
	u, err := b.Store.CreateUser(b.Ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: email, PasswordHash: hash, Role: role})
	require.NoError(b.T, err)
	return u
}

// login signs c in and returns the page's CSRF token for later forms.
func (c *Client) Login(email, password string) string {
	t := c.B.T
	t.Helper()
	_, page := c.Get("/login")
	resp, _ := c.PostForm("/login", url.Values{"_csrf": {CSRFFrom(t, page)}, "email": {email}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page = c.Get("/journeys")
	return CSRFFrom(t, page)
}

// withQueues rebuilds b's server with a queue inspector.
func (b *Bundle) WithQueues(insp ui.QueueInspector) {
	b.T.Helper()
	reg := nodes.NewRegistry()
	require.NoError(b.T, builtin.Register(reg))
	srv, err := ui.New(ui.Config{Version: "test"}, ui.Deps{Store: b.Store, Journeys: journeys.New(b.Store, reg), Engine: b.Engine,
		Hooks: b.NewHooks(), Queues: insp, Logger: slog.New(slog.NewTextHandler(LogWriter{b.T}, nil))})
	require.NoError(b.T, err)
	b.Server = srv
}
