package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

func upsertProfile(t *testing.T, b *uitest.Bundle, ext, email string, attrs map[string]any) store.Profile {
	t.Helper()
	u := store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: ext, Attributes: attrs, Source: "test"}
	if email != "" {
		u.Email = &email
	}
	p, _, err := b.Store.UpsertProfile(b.Ctx, u)
	require.NoError(t, err)
	return p
}

var profileRowRE = regexp.MustCompile(`data-testid="profile-row" data-external-id="([^"]*)"`)

func profileRows(page string) []string {
	var out []string
	for _, m := range profileRowRE.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

var nextRE = regexp.MustCompile(`href="([^"]*)" data-testid="profiles-next"`)

func TestProfilesPage(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	upsertProfile(t, b, "ada", "ada@example.com", map[string]any{"plan": "pro", "score": 12, "nick": "<script>alert(1)</script>"})
	upsertProfile(t, b, "adam", "adam@example.com", map[string]any{"plan": "trial", "score": 3})
	upsertProfile(t, b, "bob", "adele@example.com", map[string]any{"plan": "Pro", "score": "12"})
	upsertProfile(t, b, "team a/1", "", map[string]any{"plan": "team"})
	upsertProfile(t, b, "import", "", nil)
	gone := upsertProfile(t, b, "gone", "adrien@example.com", nil)
	_, err := b.Store.EraseProfile(b.Ctx, store.DefaultWorkspaceID, gone.ID)
	require.NoError(t, err)

	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	ed := b.Client()
	ed.Login("ed@example.com", "correct horse battery")

	// Every profile, erased ones left out; links percent-escape the id, and
	// "import" does not open the import page.
	resp, page := ed.Get("/profiles")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"ada", "adam", "bob", "import", "team a/1"}, profileRows(page))
	require.Contains(t, page, `href="/profiles/team%20a%2F1"`)
	require.Contains(t, page, `href="/profiles/%69mport"`)
	require.Contains(t, page, `data-testid="nav-profiles"`)
	resp, page = ed.Get("/profiles/%69mport")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `data-testid="profile-id">import<`)
	resp, _ = ed.Get("/profiles/team%20a%2F1")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"search by id, then email", "q=ad", []string{"ada", "adam", "bob"}},
		{"search an email in any case", "q=ADELE", []string{"bob"}},
		{"text is", "attr=plan&op=is&value=pro", []string{"ada"}},
		{"text contains, any case", "attr=plan&op=contains&value=PRO", []string{"ada", "bob"}},
		{"number, not the string", "attr=score&op=gte&value=12", []string{"ada"}},
		{"number less than", "attr=score&op=lt&value=12.5", []string{"ada", "adam"}},
		{"not set", "attr=score&op=not_set", []string{"import", "team a/1"}},
		{"search and filter", "q=ad&attr=plan&op=contains&value=pro", []string{"ada", "bob"}},
		{"nothing", "q=zzz", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := ed.Get("/profiles?" + tc.query)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, tc.want, profileRows(page))
			if tc.want == nil {
				require.Contains(t, page, "No profiles match.")
			}
		})
	}

	// The filtered attribute's value is a column, escaped.
	_, page = ed.Get("/profiles?attr=nick&op=set")
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotContains(t, page, "<script>alert(1)")

	// Pages follow a cursor, with the filters kept.
	_, page = ed.Get("/profiles?q=ad&limit=2")
	require.Equal(t, []string{"ada", "adam"}, profileRows(page))
	next := nextRE.FindStringSubmatch(page)
	require.NotNil(t, next)
	_, page = ed.Get(html.UnescapeString(next[1]))
	require.Equal(t, []string{"bob"}, profileRows(page))
	require.NotRegexp(t, nextRE, page)
	require.Contains(t, page, `data-testid="profiles-first"`)

	// Bad input: the page again with the problem by the form, 400.
	for _, tc := range []struct{ query, field, message string }{
		{"attr=score&op=gt&value=lots", "value", "Type a number"},
		{"attr=score&op=between&value=1", "op", "Choose one of the comparisons offered."},
		{"attr=plan", "op", "Choose how to compare the attribute."},
		{"op=is&value=x", "attr", "Name the attribute to filter on."},
		{"attr=a%22b&op=set", "attr", "quotes"},
		{"attr=plan&op=contains", "value", "Type the text"},
		{"cursor=nonsense", "cursor", "start again from the first page"},
		{"limit=501", "limit", "1 to 500"},
		{"attr=" + strings.Repeat("a", 65) + "&op=set", "attr", "at most 64 characters"},
		{"attr=plan&op=is&value=" + strings.Repeat("x", store.MaxAttributeFilterValue+1), "value", "at most 1024 characters"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, page := ed.Get("/profiles?" + tc.query)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Regexp(t, fmt.Sprintf(`data-testid="profiles-error-%s">[^<]*%s`, tc.field, regexp.QuoteMeta(html.EscapeString(tc.message))), page)
			require.Contains(t, page, `data-testid="profiles-filter"`, "the form stays, with what was typed")
		})
	}

	// Viewers do not read profiles (docs/security.md), and see no link.
	vi := b.Client()
	vi.Login("vi@example.com", "correct horse battery")
	resp, _ = vi.Get("/profiles")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, page = vi.Get("/journeys")
	require.NotContains(t, page, `href="/profiles"`)
	// Signed out: the sign-in page, then back here.
	resp, _ = b.Client().Get("/profiles?q=ad")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/profiles?q=ad"), resp.Header.Get("Location"))
}
