package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func TestRunExplorer(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.ExplorerJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [
		{"name": "signed_up", "profile_id": "ada", "properties": {"group": "x", "note": "<img src=x onerror=alert(2)>"},
		 "profile": {"email": "ada@example.com", "attributes": {"nick": "<script>alert(1)</script>"}, "consent": {"email": "granted"}}},
		{"name": "signed_up", "profile_id": "bob", "properties": {"group": "y"}, "profile": {"email": "bob@example.com"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	results := res.JSON(t)["events"].([]any)
	adaRun := results[0].(map[string]any)["entered"].([]any)[0].(string)
	bobRun := results[1].(map[string]any)["entered"].([]any)[0].(string)
	b.Drain(b.Engine)

	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	ed := b.Client()
	csrf := ed.Login("ed@example.com", "correct horse battery")

	// The list and its filters.
	resp, page := ed.Get("/runs")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, adaRun)
	require.Contains(t, page, bobRun)
	require.Contains(t, page, "Explorer &lt;b&gt;")
	require.NotContains(t, page, "Explorer <b>")
	for _, tc := range []struct {
		name, query string
		want, not   []string
	}{
		{"by profile", "profile=ada", []string{adaRun}, []string{bobRun}},
		{"by email, any case", "email=ADA@example.com", []string{adaRun}, []string{bobRun}},
		{"by status", "status=failed", []string{bobRun}, []string{adaRun}},
		{"by journey and node", "journey_id=" + jid + "&node=late", []string{bobRun}, []string{adaRun}},
		{"unknown profile", "profile=nobody", []string{"No profile has the id"}, []string{adaRun, bobRun}},
		{"unknown email", "email=nobody@example.com", []string{"No profile has the email"}, []string{adaRun, bobRun}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := ed.Get("/runs?" + tc.query)
			require.Equal(t, 200, resp.StatusCode)
			for _, w := range tc.want {
				require.Contains(t, page, w)
			}
			for _, n := range tc.not {
				require.NotContains(t, page, n)
			}
		})
	}
	resp, _ = ed.Get("/runs?status=bogus")
	require.Equal(t, 400, resp.StatusCode)

	// Steps by title (the id beside them, muted), statuses in words; the
	// machine values stay in data attributes.
	require.Contains(t, page, `data-status="failed" title="Status: failed">Failed</span>`)
	require.Contains(t, page, `<span class="step-name" data-testid="step-name">Send email</span> <code class="muted small step-id" data-testid="step-id" title="Step id">late</code>`)
	require.Contains(t, page, `data-testid="nav-profiles"`, "editors read profiles")
	_, page = ed.Get("/runs?journey_id=" + jid)
	require.Contains(t, page, `<select name="node" data-testid="filter-node">`, "a journey's steps to choose from")
	require.Contains(t, page, `<option value="late">Send email (late)</option>`)
	require.Contains(t, page, `<option value="failed">Failed</option>`)
	require.Contains(t, page, `<option value="waiting_event">Waiting for an event</option>`)

	// A run's timeline: node, port, outcome, the value that decided, the message.
	resp, page = ed.Get("/runs/" + adaRun)
	require.Equal(t, 200, resp.StatusCode)
	for _, s := range []string{`data-node-id="cond"`, "Group X?", "yes", `data-outcome="sent" title="Outcome: sent">Sent<`, `href="#delivery-`, `id="delivery-`, "ada@example.com",
		`data-status="completed" title="Status: completed">Completed<`, `data-status="delivered" title="Status: delivered">Delivered<`} {
		require.Contains(t, page, s)
	}
	require.Contains(t, page, "&lt;img src=x onerror=alert(2)&gt;", "the entry event, escaped")
	require.NotContains(t, page, "<img src=x")
	require.NotContains(t, page, `data-testid="run-retry"`, "a completed run has nothing to retry")

	// The failed run: its reason, and retry (CSRF, audited).
	resp, page = ed.Get("/runs/" + bobRun)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="run-error"`)
	require.Contains(t, page, "does not exist or is disabled")
	require.Contains(t, page, `data-testid="run-retry"`)
	resp, _ = ed.PostForm("/runs/"+bobRun+"/retry", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp, _ = ed.PostForm("/runs/"+bobRun+"/retry", url.Values{"_csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/runs/"+bobRun+"?done=retried", resp.Header.Get("Location"))
	run, err := b.Store.GetRun(b.Ctx, bobRun)
	require.NoError(t, err)
	require.Equal(t, store.RunActive, run.Status)
	resp, _ = ed.PostForm("/runs/"+bobRun+"/retry", url.Values{"_csrf": {csrf}})
	require.Equal(t, http.StatusConflict, resp.StatusCode, "only failed runs retry")
	_, page = ed.Get("/runs/" + bobRun)
	require.Contains(t, page, `data-testid="run-cancel"`)
	resp, _ = ed.PostForm("/runs/"+bobRun+"/cancel", url.Values{"_csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	run, err = b.Store.GetRun(b.Ctx, bobRun)
	require.NoError(t, err)
	require.True(t, run.Final())
	for _, action := range []string{"run.retry", "run.cancel"} {
		entries, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: action})
		require.NoError(t, err)
		require.Len(t, entries, 1, action)
		require.Equal(t, bobRun, entries[0].TargetID)
	}
	resp, _ = ed.Get("/runs/nope")
	require.Equal(t, 404, resp.StatusCode)

	// The profile page escapes what profiles carry.
	resp, page = ed.Get("/profiles/ada")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotContains(t, page, "<script>alert(1)")
	for _, s := range []string{"granted", "signed_up", adaRun, "Hi"} {
		require.Contains(t, page, s)
	}
	resp, _ = ed.Get("/profiles/nobody")
	require.Equal(t, 404, resp.StatusCode)

	// Viewers read runs, but neither act nor read profiles.
	vi := b.Client()
	vcsrf := vi.Login("vi@example.com", "correct horse battery")
	resp, page = vi.Get("/runs/" + adaRun)
	require.Equal(t, 200, resp.StatusCode)
	require.NotContains(t, page, "<img src=x")
	require.NotContains(t, page, `data-testid="run-entry"`, "the entry event is for profile readers")
	resp, _ = vi.PostForm("/runs/"+adaRun+"/cancel", url.Values{"_csrf": {vcsrf}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = vi.Get("/profiles/ada")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = vi.Get("/runs?email=ada@example.com")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, page = vi.Get("/runs?profile=ada")
	require.Equal(t, 200, resp.StatusCode)
	require.True(t, strings.Contains(page, adaRun))
	require.Contains(t, page, `data-testid="run-profile-id">ada<`, "the profile id as text")
	require.NotContains(t, page, `href="/profiles/`, "no link a viewer would only be refused")
	require.NotContains(t, page, `data-testid="nav-profiles"`)
	_, page = vi.Get("/runs/" + adaRun)
	require.NotContains(t, page, `href="/profiles/`)

	// Move to node: admins only, CSRF, audited; the run goes on from there.
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [{"name": "signed_up", "profile_id": "cy", "properties": {"group": "y"}, "profile": {"email": "cy@example.com"}}]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	cyRun := res.JSON(t)["events"].([]any)[0].(map[string]any)["entered"].([]any)[0].(string)
	b.Drain(b.Engine)
	run, err = b.Store.GetRun(b.Ctx, cyRun)
	require.NoError(t, err)
	require.Equal(t, store.RunFailed, run.Status)
	_, page = ed.Get("/runs/" + cyRun)
	require.NotContains(t, page, `data-testid="run-move-form"`, "editors cannot move runs")
	resp, _ = ed.PostForm("/runs/"+cyRun+"/move", url.Values{"_csrf": {csrf}, "node_id": {"hello"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	b.CreateUser("root@example.com", "correct horse battery", store.RoleAdmin)
	root := b.Client()
	rcsrf := root.Login("root@example.com", "correct horse battery")
	_, page = root.Get("/runs/" + cyRun)
	require.Contains(t, page, `data-testid="run-move-form"`)
	require.Contains(t, page, `<option value="hello">Send email (hello)</option>`, "steps by title; the id tells two untitled ones apart")
	require.Contains(t, page, `<option value="cond">Group X?</option>`)
	require.NotContains(t, page, `<option value="start">`, "a run cannot be moved onto its trigger")
	resp, _ = root.PostForm("/runs/"+cyRun+"/move", url.Values{"node_id": {"hello"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp, _ = root.PostForm("/runs/"+cyRun+"/move", url.Values{"_csrf": {rcsrf}, "node_id": {"nowhere"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = root.PostForm("/runs/"+cyRun+"/move", url.Values{"_csrf": {rcsrf}, "node_id": {"hello"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/runs/"+cyRun+"?done=moved", resp.Header.Get("Location"))
	_, page = root.Get("/runs/" + cyRun + "?done=moved")
	require.Contains(t, page, "The run was moved to “Send email” (hello).")
	b.Drain(b.Engine)
	run, err = b.Store.GetRun(b.Ctx, cyRun)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status, "the moved run went on through hello to the end")
	entries, err := b.Store.ListAudit(b.Ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "run.move"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, cyRun, entries[0].TargetID)
	require.Equal(t, "user", entries[0].ActorType)
	require.Equal(t, "hello", entries[0].Summary["to"])
}
