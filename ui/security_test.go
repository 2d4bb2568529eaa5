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
)

const testPW = "correct horse battery"

var linkPattern = regexp.MustCompile(`data-testid="link">https?://[^/]+(/[a-z]+/[A-Za-z0-9_-]+)<`)

func oneTimeLink(t *testing.T, page string) string {
	t.Helper()
	m := linkPattern.FindStringSubmatch(page)
	require.NotNil(t, m, "page shows no one-time link")
	return m[1]
}

func TestAttackPrivilegeEscalationByRoleField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.createUser("admin@example.com", testPW, store.RoleAdmin)
	ed := b.createUser("ed@example.com", testPW, store.RoleEditor)
	c := b.client()
	tok := c.login("ed@example.com", testPW)

	// An editor posting the admin role form for themselves, or inviting an admin.
	resp, _ := c.postForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.postForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"mallory@example.com"}, "role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.postForm("/api-keys", url.Values{"_csrf": {tok}, "name": {"mine"}, "scopes": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	u, err := b.store.GetUser(b.ctx, ed.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleEditor, u.Role, "role unchanged")
	_, err = b.store.GetUserByEmail(b.ctx, "mallory@example.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	keys, err := b.store.ListAPIKeys(b.ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	require.Empty(t, keys)

	// An admin cannot change their own role either (nor lock out the last admin).
	ac := b.client()
	atok := ac.login("admin@example.com", testPW)
	resp, _ = ac.postForm("/users/"+admin.ID+"/role", url.Values{"_csrf": {atok}, "role": {"viewer"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// A "role" field smuggled into the invitation-accept form is ignored.
	_, page := ac.postForm("/users/invite", url.Values{"_csrf": {atok}, "email": {"vic@example.com"}, "role": {"viewer"}})
	link := oneTimeLink(t, page)
	vc := b.client()
	_, page = vc.get(link)
	resp, _ = vc.postForm(link, url.Values{"_csrf": {csrfFrom(t, page)}, "password": {testPW}, "password_confirm": {testPW}, "role": {"admin"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	vic, err := b.store.GetUserByEmail(b.ctx, "vic@example.com")
	require.NoError(t, err)
	require.Equal(t, store.RoleViewer, vic.Role)
	resp, _ = vc.get("/users")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestAttackBruteForceLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("ada@example.com", testPW, store.RoleViewer)
	b.createUser("bob@example.com", testPW, store.RoleViewer)
	c := b.client()
	_, page := c.get("/login")
	tok := csrfFrom(t, page)
	for i := 0; i < 5; i++ {
		resp, _ := c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ada@example.com"}, "password": {"guess number " + string(rune('a'+i))}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", i+1)
	}
	// Locked: even the right password is refused, with Retry-After.
	resp, page := c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ADA@example.com"}, "password": {testPW}})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, page, "Too many failed sign-ins")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Empty(t, c.cookies["waymark_session"])
	// Unknown accounts lock the same way (no enumeration by behaviour).
	for i := 0; i < 5; i++ {
		c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ghost@example.com"}, "password": {"x"}})
	}
	resp, _ = c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"ghost@example.com"}, "password": {"x"}})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	// Another account from the same address is still below the IP limit.
	resp, _ = c.postForm("/login", url.Values{"_csrf": {tok}, "email": {"bob@example.com"}, "password": {testPW}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func TestAttackOpenRedirect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("ada@example.com", testPW, store.RoleViewer)
	for _, tc := range []struct{ name, next, want string }{
		{"scheme-relative", "//evil.example/x", "/journeys"},
		{"absolute", "https://evil.example/", "/journeys"},
		{"backslash", "/\\evil.example", "/journeys"},
		{"javascript", "javascript:alert(1)", "/journeys"},
		{"newline", "/journeys\r\nLocation: https://evil.example", "/journeys"},
		{"local", "/journeys/new?x=1", "/journeys/new?x=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.client()
			_, page := c.get("/login?next=" + url.QueryEscape(tc.next))
			resp, _ := c.postForm("/login", url.Values{"_csrf": {csrfFrom(t, page)}, "email": {"ada@example.com"}, "password": {testPW}, "next": {tc.next}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, tc.want, resp.Header.Get("Location"))
			// Signed in, /login?next= redirects too: same rule.
			resp, _ = c.get("/login?next=" + url.QueryEscape(tc.next))
			require.Equal(t, tc.want, resp.Header.Get("Location"))
		})
	}
}

func TestAttackSessionReuseAfterLogoutAndDisable(t *testing.T) {
	t.Parallel()
	b, exec := setupSQL(t)
	b.createUser("admin@example.com", testPW, store.RoleAdmin)
	vic := b.createUser("vic@example.com", testPW, store.RoleEditor)

	// Logout kills the session server-side: a copied cookie is dead.
	c := b.client()
	tok := c.login("vic@example.com", testPW)
	stolen := c.cookies["waymark_session"]
	resp, _ := c.postForm("/logout", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	replay := b.client()
	replay.cookies["waymark_session"] = stolen
	resp, _ = replay.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// Signing in again issues a new session id.
	tok = c.login("vic@example.com", testPW)
	require.NotEqual(t, stolen, c.cookies["waymark_session"])

	// Disabling the user kills every session at once.
	ac := b.client()
	atok := ac.login("admin@example.com", testPW)
	resp, _ = ac.postForm("/users/"+vic.ID+"/disable", url.Values{"_csrf": {atok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = c.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page := c.get("/login")
	resp, _ = c.postForm("/login", url.Values{"_csrf": {csrfFrom(t, page)}, "email": {"vic@example.com"}, "password": {testPW}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a disabled user cannot sign in")
	_ = tok

	// Idle timeout (12h by default): a session unseen for 13 hours is dead.
	exec(`UPDATE sessions SET last_seen_at = ?`, time.Now().UTC().Add(-13*time.Hour))
	resp, _ = ac.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// Absolute timeout: an expired session is dead even if active.
	atok = ac.login("admin@example.com", testPW)
	exec(`UPDATE sessions SET expires_at = ?`, time.Now().UTC().Add(-time.Minute))
	resp, _ = ac.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_ = atok
}

func TestAttackExpiredAndRevokedAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := time.Now().Add(-time.Hour)
	key, prefix, hash := auth.NewAPIKey()
	_, err := b.store.CreateAPIKey(b.ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: "old", Prefix: prefix, KeyHash: hash, Scopes: []string{"admin"}, ExpiresAt: &past})
	require.NoError(t, err)
	r := b.call("GET", "/api/v1/journeys", key, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "invalid_api_key", r.json(t)["error"].(map[string]any)["code"])

	// Created and revoked in the UI: works, then does not.
	b.createUser("admin@example.com", testPW, store.RoleAdmin)
	c := b.client()
	tok := c.login("admin@example.com", testPW)
	resp, page := c.postForm("/api-keys", url.Values{"_csrf": {tok}, "name": {"ci"}, "scopes": {"journeys:read", "events:write"}, "expires_days": {"30"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := regexp.MustCompile(`data-testid="key">(wmk_[A-Za-z0-9_-]+)<`).FindStringSubmatch(page)
	require.NotNil(t, m, "the new key is shown once")
	require.Equal(t, http.StatusOK, b.call("GET", "/api/v1/journeys", m[1], nil).status)
	require.Equal(t, http.StatusForbidden, b.call("GET", "/api/v1/connectors", m[1], nil).status, "scopes hold")
	_, page = c.get("/api-keys")
	require.NotContains(t, page, m[1], "the key is never shown again")
	keys, err := b.store.ListAPIKeys(b.ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	var id string
	for _, k := range keys {
		if k.Name == "ci" {
			id = k.ID
			require.NotNil(t, k.ExpiresAt)
		}
	}
	resp, _ = c.postForm("/api-keys/"+id+"/revoke", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusUnauthorized, b.call("GET", "/api/v1/journeys", m[1], nil).status)

	// Bad input names the field.
	resp, page = c.postForm("/api-keys", url.Values{"_csrf": {tok}, "name": {""}, "expires_days": {"-3"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="name-error"`)
	require.Contains(t, page, `data-testid="scopes-error"`)
	require.Contains(t, page, `data-testid="expires_days-error"`)
}

func TestAttackStoredXSS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const payload = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	b.createUser("admin@example.com", testPW, store.RoleAdmin)
	doc := `{"format":1,"name":"x","settings":{"reentry":"never","timezone":"UTC"},"nodes":[{"id":"start","kind":"trigger_event","title":` +
		mustJSON(t, payload) + `,"position":{"x":0,"y":0},"config":{"event":"signed_up"}}],"edges":[]}`
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: payload, Draft: []byte(doc)})
	require.NoError(t, err)
	hash, _ := auth.HashPassword(testPW)
	_, err = b.store.CreateUser(b.ctx, store.User{WorkspaceID: store.DefaultWorkspaceID, Email: "x@example.com", Name: payload, PasswordHash: hash, Role: store.RoleViewer})
	require.NoError(t, err)
	_, err = b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "user", ActorID: payload, Action: "journey.create",
		TargetType: "journey", TargetID: j.ID, Summary: map[string]any{"name": payload}})
	require.NoError(t, err)
	c := b.client()
	c.login("admin@example.com", testPW)
	for _, path := range []string{"/journeys", "/journeys/" + j.ID + "/edit", "/users", "/audit"} {
		resp, page := c.get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.NotContains(t, page, "<script>alert(1)", path)
		require.NotContains(t, page, "<img src=x", path)
	}
	// CSV cells that a spreadsheet would run as formulas are defused.
	_, err = b.store.AppendAudit(b.ctx, store.AuditEntry{WorkspaceID: store.DefaultWorkspaceID, ActorType: "user", ActorID: "=HYPERLINK(\"http://evil\")", Action: "x.y"})
	require.NoError(t, err)
	_, body := c.get("/audit.csv?action=x.y")
	require.Contains(t, body, `'=HYPERLINK`)
}

// TestAttackIDORAcrossWorkspaces calls every API endpoint that takes an id
// with an all-powerful key of another workspace and the ids of this one:
// each answers 404 and nothing changes.
func TestAttackIDORAcrossWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := b.apiKey(store.DefaultWorkspaceID, "admin")
	r := b.call("POST", "/api/v1/journeys", own, testdata(t, "welcome_series.json"))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	jid := r.json(t)["id"].(string)
	r = b.call("POST", "/api/v1/profiles", own, []byte(`{"external_id":"u-1","email":"u1@example.com"}`))
	require.Less(t, r.status, 300, string(r.body))
	foreign := b.apiKey("other", "admin")

	ids := map[string]string{":id": jid, ":external_id": "u-1", ":version": "1"}
	checked := 0
	for _, rt := range b.server.App().GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || !strings.Contains(rt.Path, ":") || rt.Method == http.MethodHead {
			continue
		}
		path := rt.Path
		for k, v := range ids {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.HasPrefix(rt.Path, "/api/v1/runs/") || strings.HasPrefix(rt.Path, "/api/v1/connectors/") {
			continue // no run or connector in this bundle; see TestAttackIDORRunsAndUI
		}
		var body []byte
		if rt.Method != http.MethodGet && rt.Method != http.MethodDelete {
			body = testdata(t, "welcome_series.json")
		}
		r := b.call(rt.Method, path, foreign, body)
		require.Equal(t, http.StatusNotFound, r.status, "%s %s with another workspace's key: %s", rt.Method, path, r.body)
		checked++
	}
	require.GreaterOrEqual(t, checked, 10)
	r = b.call("GET", "/api/v1/journeys/"+jid, own, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "draft", r.json(t)["status"], "nothing changed")
}

// TestAttackIDORRunsAndUI covers the UI's id-taking admin actions across
// workspaces.
func TestAttackIDORRunsAndUI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	victim := b.createUser("vic@example.com", testPW, store.RoleEditor)
	vc := b.client()
	vc.login("vic@example.com", testPW)
	j, err := b.store.CreateJourney(b.ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "j", Draft: []byte(`{}`)})
	require.NoError(t, err)
	sessions, err := b.store.ListWorkspaceSessions(b.ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)

	_, err = b.store.EnsureWorkspace(b.ctx, "other", "Other")
	require.NoError(t, err)
	hash, _ := auth.HashPassword(testPW)
	_, err = b.store.CreateUser(b.ctx, store.User{WorkspaceID: "other", Email: "boss@other.example", PasswordHash: hash, Role: store.RoleAdmin})
	require.NoError(t, err)
	c := b.client()
	tok := c.login("boss@other.example", testPW)
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
			resp, _ = c.get(tc.path)
		} else {
			resp, _ = c.postForm(tc.path, url.Values{"_csrf": {tok}, "role": {"viewer"}})
		}
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", tc.method, tc.path)
	}
	resp, _ := vc.get("/journeys")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the victim's session survived")
	u, err := b.store.GetUser(b.ctx, victim.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleEditor, u.Role)
	require.Nil(t, u.DisabledAt)
}

func TestAttackCSRFOnAdminForms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("admin@example.com", testPW, store.RoleAdmin)
	vic := b.createUser("vic@example.com", testPW, store.RoleViewer)
	c := b.client()
	tok := c.login("admin@example.com", testPW)
	// A foreign page submitting the admin's form: right cookie, wrong origin.
	req := httptest.NewRequest(http.MethodPost, "/users/"+vic.ID+"/role", strings.NewReader(url.Values{"_csrf": {tok}, "role": {"admin"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp := c.do(req)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	// Same origin without the token.
	resp, _ = c.postForm("/users/"+vic.ID+"/role", url.Values{"role": {"admin"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	u, err := b.store.GetUser(b.ctx, vic.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleViewer, u.Role)
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createUser("admin@example.com", testPW, store.RoleAdmin)
	c := b.client()
	tok := c.login("admin@example.com", testPW)

	// Invite: bad input names the field; a good one shows a one-time link.
	resp, page := c.postForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"nope"}, "role": {"root"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="email-error"`)
	require.Contains(t, page, `data-testid="role-error"`)
	resp, page = c.postForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "role": {"editor"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	link := oneTimeLink(t, page)
	require.True(t, strings.HasPrefix(link, "/invite/"))
	resp, _ = c.postForm("/users/invite", url.Values{"_csrf": {tok}, "email": {"ed@example.com"}, "role": {"editor"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "taken email")

	// The invited user cannot sign in before choosing a password.
	ed, err := b.store.GetUserByEmail(b.ctx, "ed@example.com")
	require.NoError(t, err)
	require.Empty(t, ed.PasswordHash)

	ec := b.client()
	resp, page = ec.get(link)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	etok := csrfFrom(t, page)
	resp, page = ec.postForm(link, url.Values{"_csrf": {etok}, "password": {"short"}, "password_confirm": {"short"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, page, `data-testid="password-error"`)
	resp, _ = ec.postForm(link, url.Values{"_csrf": {etok}, "password": {"a new long password"}, "password_confirm": {"a new long password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = ec.get("/journeys/new")
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in as editor")
	// The link works once.
	resp, _ = b.client().get(link)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Role change, audited with before/after.
	resp, _ = c.postForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"viewer"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = c.postForm("/users/"+ed.ID+"/role", url.Values{"_csrf": {tok}, "role": {"superuser"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = ec.get("/journeys/new")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the new role applies at once")

	// Reset link: the old sessions end when it is used.
	resp, page = c.postForm("/users/"+ed.ID+"/reset", url.Values{"_csrf": {tok}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	reset := oneTimeLink(t, page)
	require.True(t, strings.HasPrefix(reset, "/reset/"))
	rc := b.client()
	_, page = rc.get(reset)
	resp, _ = rc.postForm(reset, url.Values{"_csrf": {csrfFrom(t, page)}, "password": {"another long password"}, "password_confirm": {"another long password"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = ec.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sessions from before the reset are gone")

	// Sessions page lists and revokes.
	resp, page = c.get("/sessions")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "ed@example.com")
	list, err := b.store.ListWorkspaceSessions(b.ctx, store.DefaultWorkspaceID)
	require.NoError(t, err)
	for _, s := range list {
		if s.UserID == ed.ID {
			resp, _ = c.postForm("/sessions/"+s.ID+"/revoke", url.Values{"_csrf": {tok}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}
	}
	resp, _ = rc.get("/journeys")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "revoked")

	// The audit log has it all, with summaries and no secrets.
	entries, err := b.store.QueryAudit(b.ctx, store.DefaultWorkspaceID, store.AuditQuery{Action: "user."})
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
	sess, err := b.store.QueryAudit(b.ctx, store.DefaultWorkspaceID, store.AuditQuery{Action: "session.revoke"})
	require.NoError(t, err)
	require.NotEmpty(t, sess)

	// Filters and CSV.
	resp, page = c.get("/audit?action=user.role_change")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, strings.Count(page, `data-testid="audit-row"`))
	resp, _ = c.get("/audit?from=yesterday")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, body := c.get("/audit.csv?action=user.")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/csv")
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	require.True(t, strings.HasPrefix(body, "id,created_at,actor_type"))
	require.Contains(t, body, "user.role_change")
	require.NotContains(t, body, "session.revoke")
}
