package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// signOut ends the client's session on the server, as an admin's revoke
// or the idle timeout does; the browser keeps its cookie.
func signOut(t *testing.T, c *uitest.Client) {
	t.Helper()
	tok := c.Cookies["waymark_session"]
	require.NotEmpty(t, tok)
	require.NoError(t, c.B.Store.DeleteSession(c.B.Ctx, auth.HashToken(tok)))
}

type answer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	CSRFToken string `json:"csrf_token"`
	Email     string `json:"email"`
}

func call(t *testing.T, c *uitest.Client, method, path, body string, header map[string]string) (*http.Response, answer) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp := c.Do(req)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a answer
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &a), string(raw))
	}
	return resp, a
}

// TestSignedOutScriptRequests: when the session has ended, the editor's
// requests (fetch and htmx) get 401 "signed_out" with a token for the
// sign-in dialog, not a CSRF refusal or a redirect; POST /reauth signs in
// again from the dialog (throttled as /login, same person only) and its
// token lets the page's save through (issue 21, item 3).
func TestSignedOutScriptRequests(t *testing.T) {
	t.Parallel()
	b, _ := uitest.SetupSQL(t)
	c := b.EditorClient(store.RoleEditor)
	id := c.Create(url.Values{"name": {"Kept"}})
	doc := func(name string) []byte {
		raw, err := json.Marshal(map[string]any{"revision": 1, "document": flows.Journey{Format: flows.Format, Name: name}})
		require.NoError(t, err)
		return raw
	}
	save := func(tok string) (*http.Response, answer) {
		return call(t, c.Client, "POST", "/journeys/"+id+"/draft", string(doc("Kept after sign-in")), map[string]string{
			"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": tok,
			"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"})
	}
	signOut(t, c.Client)

	// The autosave: 401 signed_out with a token for the dialog.
	resp, a := save(c.Tok)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "signed_out", a.Error.Code)
	require.Contains(t, a.Error.Message, "signed out")
	require.Len(t, a.CSRFToken, 43)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	dialogToken := a.CSRFToken

	// A panel's htmx form: the same, and an event htmx fires.
	resp, a = call(t, c.Client, "POST", "/journeys/"+id+"/panel/settings", "settings=%7B%7D", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true", "X-CSRF-Token": c.Tok})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "signed_out", a.Error.Code)
	require.Equal(t, "waymark:signed-out", resp.Header.Get("HX-Trigger"))

	// A script's GET (the canvas counters): 401 too, not the sign-in page.
	resp, a = call(t, c.Client, "GET", "/journeys/"+id+"/stats.json", "", map[string]string{"Accept": "application/json", "Sec-Fetch-Mode": "cors"})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "signed_out", a.Error.Code)

	// The browser navigating: to the sign-in page, which says why and
	// comes back.
	resp, _ = call(t, c.Client, "GET", "/journeys/"+id+"/edit", "", map[string]string{"Sec-Fetch-Mode": "navigate"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/journeys/"+id+"/edit"), resp.Header.Get("Location"))
	resp, _ = call(t, c.Client, "POST", "/journeys/"+id+"/pause", "_csrf="+c.Tok, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Mode": "navigate", "Referer": "http://example.com/journeys/" + id + "/edit"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?signed_out=1&next="+url.QueryEscape("/journeys/"+id+"/edit"), resp.Header.Get("Location"))
	_, page := c.Get(resp.Header.Get("Location"))
	require.Contains(t, page, "You were signed out")

	// Signing in again from the dialog.
	reauth := func(form url.Values, tok string) (*http.Response, answer) {
		return call(t, c.Client, "POST", "/reauth", form.Encode(), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", "X-CSRF-Token": tok, "Origin": "http://example.com"})
	}
	email := "editor@example.com"
	resp, a = reauth(url.Values{"email": {email}, "password": {uitest.Password}}, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no token, no sign-in")
	resp, _ = call(t, c.Client, "POST", "/reauth", url.Values{"email": {email}, "password": {uitest.Password}}.Encode(), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": dialogToken, "Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another site's request")
	resp, a = reauth(url.Values{"email": {email}}, dialogToken)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "Enter your password.", a.Error.Message)
	resp, a = reauth(url.Values{"email": {email}, "password": {strings.Repeat("x", 2000)}}, dialogToken)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, a = reauth(url.Values{"email": {email}, "password": {"wrong"}}, dialogToken)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "bad_credentials", a.Error.Code)
	require.Equal(t, "Email or password is not right.", a.Error.Message)

	// Another person's right password does not take over the page.
	b.CreateUser("other@example.com", uitest.Password, store.RoleEditor)
	resp, a = reauth(url.Values{"email": {"other@example.com"}, "password": {uitest.Password}, "expect": {email}}, dialogToken)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "other_user", a.Error.Code)
	require.Empty(t, c.Cookies["waymark_session"], "no session started")

	resp, a = reauth(url.Values{"email": {email}, "password": {uitest.Password}, "expect": {"EDITOR@example.com"}}, dialogToken)
	require.Equal(t, http.StatusOK, resp.StatusCode, a.Error.Message)
	require.Equal(t, email, a.Email)
	require.Len(t, a.CSRFToken, 43)
	require.NotEqual(t, c.Tok, a.CSRFToken)
	fresh := a.CSRFToken

	// The page retries its save: with the old token it is told the new
	// one (csrf_stale), with the new one it saves.
	resp, a = save(c.Tok)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "csrf_stale", a.Error.Code)
	require.Equal(t, fresh, a.CSRFToken)
	resp, a = save(fresh)
	require.Equal(t, http.StatusOK, resp.StatusCode, a.Error.Message)
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Contains(t, string(j.Draft), "Kept after sign-in")

	// A stale token is told the new one only in a same-origin script's
	// answer; a form gets the plain refusal.
	resp, a = call(t, c.Client, "POST", "/journeys/"+id+"/pause", "_csrf="+c.Tok, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, a.CSRFToken)
}

// TestReauthIsThrottled: the dialog's sign-in counts failures as the
// sign-in page does and locks out after the same number.
func TestReauthIsThrottled(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", uitest.Password, store.RoleEditor)
	c := b.Client()
	_, page := c.Get("/login")
	tok := uitest.CSRFFrom(t, page)
	var last *http.Response
	for i := 0; i < 8; i++ {
		req := httptest.NewRequest("POST", "/reauth", bytes.NewBufferString(url.Values{"email": {"ada@example.com"}, "password": {"nope"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", tok)
		last = c.Do(req)
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, last.StatusCode)
	}
	require.Equal(t, http.StatusTooManyRequests, last.StatusCode)
	require.NotEmpty(t, last.Header.Get("Retry-After"))
	// Even the right password waits now.
	req := httptest.NewRequest("POST", "/reauth", bytes.NewBufferString(url.Values{"email": {"ada@example.com"}, "password": {uitest.Password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", tok)
	require.Equal(t, http.StatusTooManyRequests, c.Do(req).StatusCode)
}

// TestIdleSessionIsSignedOut: a session past the idle timeout answers the
// editor's save as a revoked one does: 401 "signed_out", not a CSRF
// refusal.
func TestIdleSessionIsSignedOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/waymark.db", store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv, err := ui.New(ui.Config{Version: "test", SessionIdleTimeout: time.Hour, Now: clock},
		ui.Deps{Store: st, Journeys: journeys.New(st, reg), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	u, err := st.CreateUser(ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: "ada@example.com", Role: store.RoleEditor})
	require.NoError(t, err)
	tok, csrf := auth.Token(32), auth.Token(32)
	_, err = st.CreateSession(ctx, store.Session{ID: auth.HashToken(tok), UserID: u.ID, WorkspaceID: u.WorkspaceID, CSRFToken: csrf, ExpiresAt: now.Add(24 * time.Hour)})
	require.NoError(t, err)
	post := func() (*http.Response, answer) {
		req := httptest.NewRequest("POST", "/journeys", strings.NewReader(url.Values{"name": {"x"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", csrf)
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.AddCookie(&http.Cookie{Name: "waymark_session", Value: tok})
		resp, err := srv.App().Test(req, -1)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		var a answer
		_ = json.Unmarshal(raw, &a)
		return resp, a
	}
	resp, _ := post()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "signed in: the journey is created")

	mu.Lock()
	now = now.Add(2 * time.Hour) // idle for longer than the timeout
	mu.Unlock()
	resp, a := post()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "signed_out", a.Error.Code)
	require.NotEmpty(t, a.CSRFToken)
}
