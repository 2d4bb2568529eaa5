package web_test

import (
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

// Handler tests of "Preview as a real person" (preview_person.go,
// preview_check.go): the panel's previews render for a picked profile,
// kept per journey; HTML renders in a sandboxed frame; fields a template
// reads without a fallback are checked against the profile and the
// newest profiles.

const personalEmail = `{"id": "hello", "kind": "send_email", "title": "", "config": {"connector": "sandbox", "subject": "Hi {{ profile.first_name }}", "body": "<p>Hello {{ profile.firstname }}, {{ profile.plan ?? \"free\" }} <b>plan</b></p>"}}`

type previewFixture struct {
	b              *uitest.Bundle
	editor, viewer *uitest.EditorClient
	id             string
}

func newPreviewFixture(t *testing.T) previewFixture {
	t.Helper()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:write")
	for _, p := range []string{
		`{"external_id": "u1", "email": "mara@example.com", "attributes": {"first_name": "Mara", "plan": "pro"}}`,
		`{"external_id": "u2", "email": "sam@example.com", "attributes": {"plan": "free"}}`,
		`{"external_id": "u3", "email": "joe@example.com", "attributes": {"first_name": "Joe"}}`,
	} {
		r := b.Call("POST", "/api/v1/profiles", key, []byte(p))
		require.Less(t, r.Status, 300, string(r.Body))
	}
	r := b.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "Personal", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}}, `+personalEmail+`],
		"edges": [{"from": "start", "to": "hello"}]}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	return previewFixture{b: b, editor: b.EditorClient(store.RoleEditor), viewer: b.EditorClient(store.RoleViewer), id: r.JSON(t)["id"].(string)}
}

// panel posts the node form as the panel does: the node's fields, and
// extra (e.g. _preview_as).
func (f previewFixture) panel(t *testing.T, c *uitest.EditorClient, extra url.Values) string {
	t.Helper()
	form := url.Values{"node_id": {"hello"}, "kind": {"send_email"}, "f.connector": {"sandbox"}, "f.subject": {"Hi {{ profile.first_name }}"},
		"f.body": {`<p>Hello {{ profile.firstname }}, {{ profile.plan ?? "free" }} <b>plan</b></p>`}}
	for k, v := range extra {
		form[k] = v
	}
	resp, page := c.Post("/journeys/"+f.id+"/panel/node", form)
	require.Equal(t, 200, resp.StatusCode, page)
	return page
}

var (
	previewTextRE = regexp.MustCompile(`(?s)data-testid="preview-f.subject".*?<pre class="preview-text">(.*?)</pre>`)
	srcdocRE      = regexp.MustCompile(`<iframe class="preview-frame" sandbox="" srcdoc="([^"]*)"`)
	warningRE     = regexp.MustCompile(`data-testid="preview-warning" data-attr="([^"]+)" data-kind="([^"]+)"`)
)

func warningsOf(page string) map[string]string {
	out := map[string]string{}
	for _, m := range warningRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestPreviewAsSampleWarnsAndRendersHTML(t *testing.T) {
	f := newPreviewFixture(t)
	page := f.panel(t, f.editor, nil)
	require.Contains(t, page, "Preview for Ada (the sample profile)")
	require.Equal(t, "Hi Ada", previewTextRE.FindStringSubmatch(page)[1])

	// The HTML body renders in a sandboxed frame, escaped into srcdoc.
	m := srcdocRE.FindStringSubmatch(page)
	require.NotNil(t, m, "a sandboxed iframe")
	require.Equal(t, "<p>Hello , trial <b>plan</b></p>", html.UnescapeString(m[1]))

	// first_name is missing on 1 of the 3 profiles (over 10%); firstname
	// on all of them: a typo of first_name; plan has a fallback.
	w := warningsOf(page)
	require.Equal(t, map[string]string{"first_name": "rare", "firstname": "unknown"}, w)
	require.Contains(t, page, `is missing on 1 of the 3 newest profiles (33%)`)
	require.Contains(t, html.UnescapeString(page), `{{ profile.first_name ?? "there" }}`)
	require.Contains(t, html.UnescapeString(page), `Did you mean "first_name"?`)
}

func TestPreviewAsRealProfile(t *testing.T) {
	f := newPreviewFixture(t)

	// Search by the start of an email, or of an id.
	resp, page := f.editor.Get("/journeys/" + f.id + "/panel/profiles?_preview_q=SAM")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, `value="u2"`)
	require.NotContains(t, page, `value="u1"`)
	_, page = f.editor.Get("/journeys/" + f.id + "/panel/profiles?_preview_q=u")
	require.Equal(t, 3, strings.Count(page, `data-testid="preview-pick-result"`))
	_, page = f.editor.Get("/journeys/" + f.id + "/panel/profiles?_preview_q=nobody")
	require.Contains(t, page, `data-testid="preview-none"`)
	resp, _ = f.editor.Get("/journeys/" + f.id + "/panel/profiles?_preview_q=" + strings.Repeat("x", 201))
	require.Equal(t, 400, resp.StatusCode)

	// Pick u2: its data, and it lacks first_name.
	page = f.panel(t, f.editor, url.Values{"_preview_as": {"u2"}})
	require.Contains(t, page, "Preview for sam@example.com")
	require.Equal(t, "Hi ", previewTextRE.FindStringSubmatch(page)[1])
	require.Equal(t, "<p>Hello , free <b>plan</b></p>", html.UnescapeString(srcdocRE.FindStringSubmatch(page)[1]))
	require.Equal(t, "missing", warningsOf(page)["first_name"])
	require.Contains(t, html.UnescapeString(page), `sam@example.com has no "first_name"`)

	// The choice holds for the next render (as the canvas opens the node).
	resp, page = f.editor.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {personalEmail}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Preview for sam@example.com")
	resp, live := f.editor.Post("/journeys/"+f.id+"/panel/preview", url.Values{"kind": {"send_email"}, "field": {"subject"}, "value": {"Hey {{ profile.plan }}"}})
	require.Equal(t, 200, resp.StatusCode, live)
	require.Contains(t, live, `"preview":"Hey free"`)
	require.Contains(t, live, `"label":"Preview for sam@example.com"`)

	// Back to the sample.
	page = f.panel(t, f.editor, url.Values{"_preview_as": {""}})
	require.Contains(t, page, "Preview for Ada (the sample profile)")
	resp, page = f.editor.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {personalEmail}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Preview for Ada (the sample profile)")

	// A read-only panel (a published version) says whom previews are
	// for but offers no choice: it does not post its form.
	resp, page = f.editor.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {personalEmail}, "readonly": {"true"}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, `data-testid="preview-as-label"`)
	require.NotContains(t, page, `data-testid="preview-q"`)

	// A profile that does not exist: the sample, and a note.
	page = f.panel(t, f.editor, url.Values{"_preview_as": {"ghost"}})
	require.Contains(t, page, "Preview for Ada (the sample profile)")
	require.Contains(t, page, `data-testid="preview-as-note"`)
	resp, _ = f.editor.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {personalEmail}, "_preview_as": {strings.Repeat("x", 201)}})
	require.Equal(t, 400, resp.StatusCode)
}

// TestPreviewAsNeedsProfilesRead: a viewer previews with the sample only,
// cannot search profiles, and a posted _preview_as is ignored.
func TestPreviewAsNeedsProfilesRead(t *testing.T) {
	f := newPreviewFixture(t)
	resp, _ := f.viewer.Get("/journeys/" + f.id + "/panel/profiles?_preview_q=sam")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, page := f.viewer.Post("/journeys/"+f.id+"/panel/node", url.Values{"node": {personalEmail}, "_preview_as": {"u2"}})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, page, "Preview for Ada (the sample profile)")
	require.NotContains(t, page, "sam@example.com")
	require.NotContains(t, page, `data-testid="preview-q"`)
	require.Empty(t, warningsOf(page), "no profile data, no checks against it")
}
