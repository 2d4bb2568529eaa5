package uitest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", for fixtures
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
)

// setupSQL is setup with a second, plain SQL connection to the same
// SQLite file, for fixtures no repository method of ours writes (runs,
// connectors).
func SetupSQL(t *testing.T) (*Bundle, func(query string, args ...any)) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "waymark.db")
	st, err := store.Open(ctx, "sqlite:"+path, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	b := &Bundle{T: t, Ctx: ctx, Store: st}
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 1 << 20}, ui.Deps{
		Store: st, Journeys: journeys.New(st, reg), Logger: slog.New(slog.NewTextHandler(LogWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.Server = srv
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return b, func(query string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, query, args...)
		require.NoError(t, err)
	}
}

// editorClient is a signed-in client with its CSRF token.
type EditorClient struct {
	*Client
	Tok string
}

func (b *Bundle) EditorClient(role store.Role) *EditorClient {
	b.T.Helper()
	email := string(role) + "@example.com"
	b.CreateUser(email, "correct horse battery", role)
	c := b.Client()
	return &EditorClient{Client: c, Tok: c.Login(email, "correct horse battery")}
}

func (c *EditorClient) Post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", c.Tok)
	return c.PostForm(path, form)
}

func (c *EditorClient) PostJSON(path string, body any) (*http.Response, map[string]any) {
	c.B.T.Helper()
	data, err := json.Marshal(body)
	require.NoError(c.B.T, err)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.Tok)
	resp := c.Do(req)
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

// create makes a journey through the "new journey" form and returns its id.
func (c *EditorClient) Create(form url.Values) string {
	c.B.T.Helper()
	resp, body := c.Post("/journeys", form)
	require.Equal(c.B.T, http.StatusSeeOther, resp.StatusCode, body)
	loc := resp.Header.Get("Location")
	require.Regexp(c.B.T, `^/journeys/[^/]+/edit$`, loc)
	return strings.TrimSuffix(strings.TrimPrefix(loc, "/journeys/"), "/edit")
}

func MustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

var EditorDataRE = regexp.MustCompile(`(?s)<script id="editor-data" type="application/json">(.*?)</script>`)
