package ui_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestAttackPrivilegeEscalationByRoleField(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	ed := b.CreateUser("ed@example.com", uitest.Password, store.RoleEditor)
	c := b.Client()
	tok := c.Login("ed@example.com", uitest.Password)

	// An editor posting the admin role form for themselves, or inviting an admin.
	resp, _ := c.PostForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.PostForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"mallory@example.com"}, "role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.PostForm("/api-keys", url.Values{"_csrf": {tok}, "name": {"mine"}, "scopes": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	u, err := b.Store.GetUser(b.Ctx, ed.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleEditor, u.Role, "role unchanged")
	_, err = b.Store.GetUserByEmail(b.Ctx, "mallory@example.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	keys, err := b.Store.ListAPIKeys(b.Ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	require.Empty(t, keys)

	// An admin cannot change their own role either (nor lock out the last admin).
	ac := b.Client()
	atok := ac.Login("admin@example.com", uitest.Password)
	resp, _ = ac.PostForm("/users/"+admin.ID+"/role", url.Values{"_csrf": {atok}, "role": {"viewer"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// A "role" field smuggled into the invitation-accept form is ignored.
	_, page := ac.PostForm("/users/invite", url.Values{"_csrf": {atok}, "email": {"vic@example.com"}, "role": {"viewer"}})
	link := uitest.OneTimeLink(t, page)
	vc := b.Client()
	_, page = vc.Get(link)
	resp, _ = vc.PostForm(link, url.Values{"_csrf": {uitest.CSRFFrom(t, page)}, "password": {uitest.Password}, "password_confirm": {uitest.Password}, "role": {"admin"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	vic, err := b.Store.GetUserByEmail(b.Ctx, "vic@example.com")
	require.NoError(t, err)
	require.Equal(t, store.RoleViewer, vic.Role)
	resp, _ = vc.Get("/users")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestAttackBruteForceLogin(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", uitest.Password, store.RoleViewer)
	b.CreateUser("bob@example.com", uitest.Password, store.RoleViewer)
	c := b.Client()
	_, page := c.Get("/login")
	tok := uitest.CSRFFrom(t, page)
	for i := 0; i < 5; i++ {
		resp, _ := c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ada@example.com"}, "password": {"guess number " + string(rune('a'+i))}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", i+1)
	}
	// Locked: even the right password is refused, with Retry-After.
	resp, page := c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ADA@example.com"}, "password": {uitest.Password}})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, page, "Too many failed sign-ins")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Empty(t, c.Cookies["waymark_session"])
	// Unknown accounts lock the same way (no enumeration by behaviour).
	for i := 0; i < 5; i++ {
		c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ghost@example.com"}, "password": {"x"}})
	}
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"ghost@example.com"}, "password": {"x"}})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	// Another account from the same address is still below the IP limit.
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {tok}, "email": {"bob@example.com"}, "password": {uitest.Password}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func TestAttackOpenRedirect(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", uitest.Password, store.RoleViewer)
	for _, tc := range []struct{ name, next, want string }{
		{"scheme-relative", "//evil.example/x", "/journeys"},
		{"absolute", "https://evil.example/", "/journeys"},
		{"backslash", "/\\evil.example", "/journeys"},
		{"javascript", "javascript:alert(1)", "/journeys"},
		{"newline", "/journeys\r\nLocation: https://evil.example", "/journeys"},
		{"local", "/journeys/new?x=1", "/journeys/new?x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.Client()
			_, page := c.Get("/login?next=" + url.QueryEscape(tc.next))
			resp, _ := c.PostForm("/login", url.Values{"_csrf": {uitest.CSRFFrom(t, page)}, "email": {"ada@example.com"}, "password": {uitest.Password}, "next": {tc.next}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, tc.want, resp.Header.Get("Location"))
			// Signed in, /login?next= redirects too: same rule.
			resp, _ = c.Get("/login?next=" + url.QueryEscape(tc.next))
			require.Equal(t, tc.want, resp.Header.Get("Location"))
		})
	}
}

func TestAttackSessionReuseAfterLogoutAndDisable(t *testing.T) {
	t.Parallel()
	b, exec := uitest.SetupSQL(t)
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	vic := b.CreateUser("vic@example.com", uitest.Password, store.RoleEditor)

	// Logout kills the session server-side: a copied cookie is dead.
	c := b.Client()
	tok := c.Login("vic@example.com", uitest.Password)
	stolen := c.Cookies["waymark_session"]
	resp, _ := c.PostForm("/logout", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	replay := b.Client()
	replay.Cookies["waymark_session"] = stolen
	resp, _ = replay.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// Signing in again issues a new session id.
	tok = c.Login("vic@example.com", uitest.Password)
	require.NotEqual(t, stolen, c.Cookies["waymark_session"])

	// Disabling the user kills every session at once.
	ac := b.Client()
	atok := ac.Login("admin@example.com", uitest.Password)
	resp, _ = ac.PostForm("/users/"+vic.ID+"/disable", url.Values{"_csrf": {atok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = c.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page := c.Get("/login")
	resp, _ = c.PostForm("/login", url.Values{"_csrf": {uitest.CSRFFrom(t, page)}, "email": {"vic@example.com"}, "password": {uitest.Password}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a disabled user cannot sign in")
	_ = tok

	// Idle timeout (12h by default): a session unseen for 13 hours is dead.
	exec(`UPDATE sessions SET last_seen_at = ?`, time.Now().UTC().Add(-13*time.Hour))
	resp, _ = ac.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// Absolute timeout: an expired session is dead even if active.
	atok = ac.Login("admin@example.com", uitest.Password)
	exec(`UPDATE sessions SET expires_at = ?`, time.Now().UTC().Add(-time.Minute))
	resp, _ = ac.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_ = atok
}

func TestAttackExpiredAndRevokedAPIKeys(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	past := time.Now().Add(-time.Hour)
	key, prefix, hash := auth.NewAPIKey()
	_, err := b.Store.CreateAPIKey(b.Ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: "old", Prefix: prefix, KeyHash: hash, Scopes: []string{"admin"}, ExpiresAt: &past})
	require.NoError(t, err)
	r := b.Call("GET", "/api/v1/journeys", key, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, "invalid_api_key", r.JSON(t)["error"].(map[string]any)["code"])

	// Created and revoked in the UI: works, then does not.
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	c := b.Client()
	tok := c.Login("admin@example.com", uitest.Password)
	resp, page := c.PostForm("/api-keys", url.Values{"_csrf": {tok}, "name": {"ci"}, "scopes": {"journeys:read", "events:write"}, "expires_days": {"30"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := regexp.MustCompile(`data-testid="key">(wmk_[A-Za-z0-9_-]+)<`).FindStringSubmatch(page)
	require.NotNil(t, m, "the new key is shown once")
	require.Equal(t, http.StatusOK, b.Call("GET", "/api/v1/journeys", m[1], nil).Status)
	require.Equal(t, http.StatusForbidden, b.Call("GET", "/api/v1/connectors", m[1], nil).Status, "scopes hold")
	_, page = c.Get("/api-keys")
	require.NotContains(t, page, m[1], "the key is never shown again")
	keys, err := b.Store.ListAPIKeys(b.Ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	var id string
	for _, k := range keys {
		if k.Name == "ci" {
			id = k.ID
			require.NotNil(t, k.ExpiresAt)
		}
	}
	resp, _ = c.PostForm("/api-keys/"+id+"/revoke", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusUnauthorized, b.Call("GET", "/api/v1/journeys", m[1], nil).Status)

	// Bad input names the field.
	resp, page = c.PostForm("/api-keys", url.Values{"_csrf": {tok}, "name": {""}, "expires_days": {"-3"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="name-error"`)
	require.Contains(t, page, `data-testid="scopes-error"`)
	require.Contains(t, page, `data-testid="expires_days-error"`)
}

func TestAttackStoredXSS(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	const payload = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	doc := `{"format":1,"name":"x","settings":{"reentry":"never","timezone":"UTC"},"nodes":[{"id":"start","kind":"trigger_event","title":` +
		uitest.MustJSON(t, payload) + `,"position":{"x":0,"y":0},"config":{"event":"signed_up"}}],"edges":[]}`
	j, err := b.Store.CreateJourney(b.Ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: payload, Draft: []byte(doc)})
	require.NoError(t, err)
	hash, _ := auth.HashPassword(uitest.Password)
	_, err = b.Store.CreateUser(b.Ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: "x@example.com", Name: payload, PasswordHash: hash, Role: store.RoleViewer})
	require.NoError(t, err)
	_, err = b.Store.AppendAudit(b.Ctx, store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "user", ActorID: payload, Action: "journey.create",
		TargetType: "journey", TargetID: j.ID, Summary: map[string]any{"name": payload}})
	require.NoError(t, err)
	c := b.Client()
	c.Login("admin@example.com", uitest.Password)
	for _, path := range []string{"/journeys", "/journeys/" + j.ID + "/edit", "/users", "/audit"} {
		resp, page := c.Get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.NotContains(t, page, "<script>alert(1)", path)
		require.NotContains(t, page, "<img src=x", path)
	}
	// CSV cells that a spreadsheet would run as formulas are defused.
	_, err = b.Store.AppendAudit(b.Ctx, store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "user", ActorID: "=HYPERLINK(\"http://evil\")", Action: "x.y"})
	require.NoError(t, err)
	_, body := c.Get("/audit.csv?action=x.y")
	require.Contains(t, body, `'=HYPERLINK`)
}

// TestAttackIDORAcrossWorkspaces calls every API endpoint that takes an id
// with an all-powerful key of another workspace and the ids of this one:
// each answers 404 and nothing changes.
func TestAttackIDORAcrossWorkspaces(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	own := b.APIKey(store.DefaultWorkspaceID, "admin")
	r := b.Call("POST", "/api/v1/journeys", own, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/profiles", own, []byte(`{"external_id":"u-1","email":"u1@example.com"}`))
	require.Less(t, r.Status, 300, string(r.Body))
	r = b.Call("POST", "/api/v1/segments", own, []byte(`{"name": "pros", "expr": "profile.plan == \"pro\""}`))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	sid := r.JSON(t)["id"].(string)
	foreign := b.APIKey("other", "admin")

	ids := map[string]string{":id": jid, ":external_id": "u-1", ":version": "1"}
	checked := 0
	for _, rt := range b.Server.App().GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || !strings.Contains(rt.Path, ":") || rt.Method == http.MethodHead {
			continue
		}
		path := rt.Path
		if strings.HasPrefix(path, "/api/v1/segments/") {
			path = strings.ReplaceAll(path, ":id", sid) // a segment of the first workspace
		}
		for k, v := range ids {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.HasPrefix(rt.Path, "/api/v1/runs/") || strings.HasPrefix(rt.Path, "/api/v1/connectors/") {
			continue // no run or connector in this bundle; see TestAttackIDORRunsAndUI
		}
		var body []byte
		if rt.Method != http.MethodGet && rt.Method != http.MethodDelete {
			body = uitest.FlowsTestdata(t, "welcome_series.json")
		}
		r := b.Call(rt.Method, path, foreign, body)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s with another workspace's key: %s", rt.Method, path, r.Body)
		checked++
	}
	require.GreaterOrEqual(t, checked, 10)
	r = b.Call("GET", "/api/v1/journeys/"+jid, own, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "draft", r.JSON(t)["status"], "nothing changed")
	r = b.Call("GET", "/api/v1/segments/"+sid, own, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "pros", r.JSON(t)["name"], "the segment is still there, unchanged")
}

// TestAttackIDORRunsAndUI covers the UI's id-taking admin actions across
// workspaces.
func TestAttackIDORRunsAndUI(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	victim := b.CreateUser("vic@example.com", uitest.Password, store.RoleEditor)
	vc := b.Client()
	vc.Login("vic@example.com", uitest.Password)
	j, err := b.Store.CreateJourney(b.Ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "j", Draft: []byte(`{}`)})
	require.NoError(t, err)
	sessions, err := b.Store.ListWorkspaceSessions(b.Ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)

	_, err = b.Store.EnsureWorkspace(b.Ctx, "other", "Other")
	require.NoError(t, err)
	hash, _ := auth.HashPassword(uitest.Password)
	_, err = b.Store.CreateUser(b.Ctx, store.User{WorkspaceID: "other", Email: "boss@other.example", PasswordHash: hash, Role: store.RoleAdmin})
	require.NoError(t, err)
	c := b.Client()
	tok := c.Login("boss@other.example", uitest.Password)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/journeys/" + j.ID + "/edit"},
		{"POST", "/journeys/" + j.ID + "/archive"},
		{"POST", "/users/" + victim.ID + "/role"},
		{"POST", "/users/" + victim.ID + "/disable"},
		{"POST", "/users/" + victim.ID + "/reset"},
		{"POST", "/sessions/" + sessions[0].ID + "/revoke"},
	} {
		var resp *http.Response
		if tc.method == "GET" {
			resp, _ = c.Get(tc.path)
		} else {
			resp, _ = c.PostForm(tc.path, url.Values{"_csrf": {tok}, "role": {"viewer"}})
		}
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", tc.method, tc.path)
	}
	resp, _ := vc.Get("/journeys")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the victim's session survived")
	u, err := b.Store.GetUser(b.Ctx, victim.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleEditor, u.Role)
	require.Nil(t, u.DisabledAt)
}

func TestAttackCSRFOnAdminForms(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	vic := b.CreateUser("vic@example.com", uitest.Password, store.RoleViewer)
	c := b.Client()
	tok := c.Login("admin@example.com", uitest.Password)
	// A foreign page submitting the admin's form: right cookie, wrong origin.
	req := httptest.NewRequest(http.MethodPost, "/users/"+vic.ID+"/role", strings.NewReader(url.Values{"_csrf": {tok}, "role": {"admin"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp := c.Do(req)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	// Same origin without the token.
	resp, _ = c.PostForm("/users/"+vic.ID+"/role", url.Values{"role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	u, err := b.Store.GetUser(b.Ctx, vic.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleViewer, u.Role)
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	b.CreateUser("admin@example.com", uitest.Password, store.RoleAdmin)
	c := b.Client()
	tok := c.Login("admin@example.com", uitest.Password)

	// Invite: bad input names the field; a good one shows a one-time link.
	resp, page := c.PostForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"nope"}, "role": {"root"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="role-error"`)
	resp, page = c.PostForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "role": {"editor"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	link := uitest.OneTimeLink(t, page)
	require.True(t, strings.HasPrefix(link, "/invite/"))
	resp, _ = c.PostForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "role": {"editor"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "taken email")

	// The invited user cannot sign in before choosing a password.
	ed, err := b.Store.GetUserByEmail(b.Ctx, "ed@example.com")
	require.NoError(t, err)
	require.Empty(t, ed.PasswordHash)

	ec := b.Client()
	resp, page = ec.Get(link)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	etok := uitest.CSRFFrom(t, page)
	resp, page = ec.PostForm(link, url.Values{"_csrf": {etok}, "password": {"short"}, "password_confirm": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="password-error"`)
	resp, _ = ec.PostForm(link, url.Values{"_csrf": {etok}, "password": {"a new long password"}, "password_confirm": {"a new long password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = ec.Get("/journeys/new")
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in as editor")
	// The link works once.
	resp, _ = b.Client().Get(link)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Role change, audited with before/after.
	resp, _ = c.PostForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"viewer"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = c.PostForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"superuser"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = ec.Get("/journeys/new")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the new role applies at once")

	// Reset link: the old sessions end when it is used.
	resp, page = c.PostForm("/users/"+ed.ID+"/reset", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	reset := uitest.OneTimeLink(t, page)
	require.True(t, strings.HasPrefix(reset, "/reset/"))
	rc := b.Client()
	_, page = rc.Get(reset)
	resp, _ = rc.PostForm(reset, url.Values{"_csrf": {uitest.CSRFFrom(t, page)}, "password": {"another long password"}, "password_confirm": {"another long password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = ec.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sessions from before the reset are gone")

	// Sessions page lists and revokes.
	resp, page = c.Get("/sessions")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "ed@example.com")
	list, err := b.Store.ListWorkspaceSessions(b.Ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	for _, s := range list {
		if s.UserID == ed.ID {
			resp, _ = c.PostForm("/sessions/"+s.ID+"/revoke", url.Values{"_csrf": {tok}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}
	}
	resp, _ = rc.Get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "revoked")

	// The audit log has it all, with summaries and no secrets.
	entries, err := b.Store.QueryAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditQuery{Action: "user."})
	require.NoError(t, err)
	actions := map[string]map[string]any{}
	for _, e := range entries {
		actions[e.Action] = e.Summary
	}
	for _, a := range []string{"user.invite", "user.password_set", "user.role_change", "user.password_reset_link"} {
		require.Contains(t, actions, a)
	}
	rc2 := actions["user.role_change"]
	require.Equal(t, "editor", rc2["before"].(map[string]any)["role"])
	require.Equal(t, "viewer", rc2["after"].(map[string]any)["role"])
	all, _ := json.Marshal(entries)
	require.NotContains(t, string(all), "argon2")
	require.NotContains(t, string(all), strings.TrimPrefix(link, "/invite/"))
	sess, err := b.Store.QueryAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditQuery{Action: "session.revoke"})
	require.NoError(t, err)
	require.NotEmpty(t, sess)

	// Filters and CSV.
	resp, page = c.Get("/audit?action=user.role_change")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, strings.Count(page, `data-testid="audit-row"`))
	resp, _ = c.Get("/audit?from=yesterday")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, body := c.Get("/audit.csv?action=user.")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/csv")
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	require.True(t, strings.HasPrefix(body, "id,created_at,actor_type"))
	require.Contains(t, body, "user.role_change")
	require.NotContains(t, body, "session.revoke")
}
