package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestAuditLogNames: the audit log says who by email or key name and
// what by name, its summary as lines, and its actor filter takes an
// email or a key name as well as an id.
func TestAuditLogNames(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.CreateUser("Mara@Example.com", "correct horse battery", store.RoleAdmin)
	ed := b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	k, err := b.Store.CreateAPIKey(b.Ctx, store.APIKey{WorkspaceID: store.DefaultWorkspaceID, Name: "CI <deploy>", Prefix: "wm_test", KeyHash: "h", Scopes: []string{"admin"}})
	require.NoError(t, err)
	j, err := b.Store.CreateJourney(b.Ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "Welcome <b>", Draft: []byte(uitest.PlanV1)})
	require.NoError(t, err)
	for _, e := range []store.AuditEntry{
		{ActorType: "user", ActorID: admin.ID, Action: "user.role_change", TargetType: "user", TargetID: ed.ID,
			Summary: map[string]any{"role": map[string]any{"from": "viewer", "to": "editor"}}},
		{ActorType: "api_key", ActorID: k.ID, Action: "journey.publish", TargetType: "journey", TargetID: j.ID,
			Summary: map[string]any{"version": 2, "moved_runs": 3, "dry_run": false}},
		{ActorType: "system", ActorID: "cli", Action: "user.create", TargetType: "user", TargetID: "gone-user"},
	} {
		e.WorkspaceID = store.DefaultWorkspaceID
		_, err := b.Store.AppendAudit(b.Ctx, e)
		require.NoError(t, err)
	}
	c := b.Client()
	c.Login("mara@example.com", "correct horse battery")
	resp, page := c.Get("/audit")
	require.Equal(t, 200, resp.StatusCode, page)
	actors := regexp.MustCompile(`data-testid="audit-actor">([^<]*)<`).FindAllStringSubmatch(page, -1)
	var who []string
	for _, m := range actors {
		who = append(who, m[1])
	}
	require.Subset(t, who, []string{"mara@example.com", "API key “CI &lt;deploy&gt;”", "Command line (waymark)"})
	require.Contains(t, page, `title="user:`+admin.ID+`"`, "the id stays for support")
	require.Contains(t, page, `data-testid="audit-target">ed@example.com<`)
	require.Contains(t, page, `data-testid="audit-target">Journey “Welcome &lt;b&gt;”<`)
	require.Contains(t, page, `data-testid="audit-target">Deleted user gone-user<`)
	require.Contains(t, page, "Role › From: viewer<br> Role › To: editor")
	require.Contains(t, page, "Dry run: no<br> Moved runs: 3<br> Version: 2")
	require.NotContains(t, page, `{&#34;role&#34;`, "no raw JSON")
	require.Contains(t, page, `<option value="ed@example.com">`, "the actor filter suggests emails")

	// Filter by email (any case), by key name, by id.
	for actor, want := range map[string]string{"mara@example.com": "user.role_change", "CI <deploy>": "journey.publish", admin.ID: "user.role_change"} {
		resp, page = c.Get("/audit?actor=" + url.QueryEscape(actor))
		require.Equal(t, 200, resp.StatusCode, page)
		require.Equal(t, 1, strings.Count(page, `data-testid="audit-row"`), actor)
		require.Contains(t, page, "<code>"+want+"</code>", actor)
	}
	resp, page = c.Get("/audit?actor=nobody@example.com")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 0, strings.Count(page, `data-testid="audit-row"`))
	resp, body := c.Get("/audit.csv?actor=" + url.QueryEscape("MARA@example.com"))
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 2, strings.Count(body, "\n"), "header and one entry: "+body)
	require.Contains(t, body, "user,"+admin.ID+",user.role_change", "the export keeps machine values")
}
