package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

const previewJourney = `{"format": 1, "name": "Preview", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "position": {"x": 60, "y": 60}, "config": {"event": "signed_up"}},
	{"id": "hello", "kind": "send_email", "position": {"x": 400, "y": 60}, "config": {"connector": "sandbox", "subject": "Hi {{ profile.first_name }}", "body": "<p>Hello <b>{{ profile.firstname }}</b></p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

// TestPreviewAsPersonBrowser: a marketer previews an email as the sample,
// sees the HTML rendered and the warnings (a typo, a field some profiles
// lack), edits the subject and clicks a panel control at once (the click
// is not lost), finds a real profile by email and previews as them, adds
// the suggested fallback, sends a test on the first click, and finds it
// in the Test inbox marked as a test.
func TestPreviewAsPersonBrowser(t *testing.T) {
	testenv.Chromium(t)
	b, _, _ := uitest.SetupTestSends(t, true)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleEditor)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "profiles:write")
	for _, p := range []string{
		`{"external_id": "u1", "email": "mara@example.com", "attributes": {"first_name": "Mara"}}`,
		`{"external_id": "u2", "email": "sam@example.com", "attributes": {"plan": "free"}}`,
		`{"external_id": "u3", "email": "joe@example.com", "attributes": {"first_name": "Joe"}}`,
	} {
		r := b.Call("POST", "/api/v1/profiles", key, []byte(p))
		require.Less(t, r.Status, 300, string(r.Body))
	}
	r := b.Call("POST", "/api/v1/journeys", key, []byte(previewJourney))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	base := b.Listen()
	br := browsertest.New(t)
	bb := &browserBundle{Bundle: b, t: t, base: base, br: br}
	br.Navigate(base + "/login")
	br.Do(
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
	)
	bb.openEditor(id)
	bb.selectNode("hello")

	// The sample: the HTML body renders in a sandboxed frame, not as source.
	require.Equal(t, "Preview for Ada (the sample profile)", bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-label]`))
	require.Equal(t, "", browsertest.Eval[string](br, `document.querySelector('[data-testid="preview-frame-f.body"]').getAttribute('sandbox')`))
	require.Equal(t, "<p>Hello <b></b></p>", browsertest.Eval[string](br, `document.querySelector('[data-testid="preview-frame-f.body"]').srcdoc`))
	require.False(t, browsertest.Eval[bool](br, `!!document.querySelector('[data-testid="preview-f.body"] pre')`))
	// The typo and the field a third of the profiles lack.
	require.Contains(t, bb.text(`[data-testid="preview-f.body"] [data-testid=preview-warning][data-attr=firstname]`), `Did you mean "first_name"?`)
	require.Contains(t, bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-warning][data-attr=first_name]`), `missing on 1 of the 3 newest profiles`)

	// Type in Subject and, without leaving it first, click "Preview as a
	// real person…": the subject is applied and the click is not lost.
	br.Do(chromedp.Click(chromedp.CSS(`#node-form [name="f.subject"]`)), chromedp.KeyEvent(kb.End), chromedp.SendKeys(chromedp.CSS(`#node-form [name="f.subject"]`), "!"))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=preview-pick] summary`)))
	br.WaitJS(`waymarkEditor.graph.getCellById('hello').getData().config.subject === 'Hi {{ profile.first_name }}!'`)
	br.WaitJS(`document.querySelector('[data-testid=preview-pick]') && document.querySelector('[data-testid=preview-pick]').open`)

	// Find Sam by the start of the email; the search re-renders nothing.
	br.Do(chromedp.SendKeys(chromedp.CSS(`[data-testid=preview-q]`), "sam"))
	br.WaitJS(`document.querySelector('[data-testid=preview-pick-result][data-profile=u2]')`)
	require.Equal(t, 1, browsertest.Eval[int](br, `document.querySelectorAll('[data-testid=preview-pick-result]').length`))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=preview-pick-result][data-profile=u2]`)))
	br.WaitJS(`document.querySelector('[data-testid=preview-as]').dataset.profile === 'u2'`)
	require.Equal(t, "Preview for sam@example.com", bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-label]`))
	require.Equal(t, "Hi !", bb.text(`[data-testid="preview-f.subject"] pre`))
	require.Contains(t, bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-warning][data-attr=first_name]`), `sam@example.com has no "first_name"`)
	fix := bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-fix]`)
	require.Equal(t, `{{ profile.first_name ?? "there" }}`, fix)

	// Use the fallback: no warning left for the subject, "Hi there!".
	bb.fill("f.subject", "Hi "+fix+"!")
	br.WaitJS(`!document.querySelector('[data-testid="preview-f.subject"] [data-testid=preview-warning]')`)
	require.Equal(t, "Hi there!", bb.text(`[data-testid="preview-f.subject"] pre`))

	// Typing in the HTML body previews live, still rendered, still checked.
	body := `#node-form [name="f.body"]`
	br.Do(chromedp.Focus(chromedp.CSS(body)), chromedp.Evaluate[chromedp.Void](`document.querySelector('#node-form [name="f.body"]').select()`),
		chromedp.SendKeys(chromedp.CSS(body), `<p>Hello <b>{{ profile.first_name ?? "you" }}</b> {{ profile.plann }}</p>`))
	br.WaitJS(`document.querySelector('[data-testid="preview-frame-f.body"]').srcdoc === '<p>Hello <b>you</b> </p>'`)
	br.WaitJS(`document.querySelector('[data-testid="preview-f.body"] [data-testid=preview-warning][data-attr=plann]')`)
	require.Equal(t, "Preview for sam@example.com", bb.text(`[data-testid="preview-f.body"] [data-testid=preview-label]`))
	require.Equal(t, "", browsertest.Eval[string](br, `document.querySelector('[data-testid="preview-frame-f.body"]').getAttribute('sandbox')`))
	require.Contains(t, bb.text(`[data-testid="preview-f.body"] [data-testid=preview-warning][data-attr=plann]`), `Did you mean "plan"?`)
	bb.submitField(body, kb.Tab)
	br.WaitJS(`waymarkEditor.graph.getCellById('hello').getData().config.body.includes('plann')`)

	// Reopening the step keeps Sam.
	bb.selectNode("start")
	bb.selectNode("hello")
	require.Equal(t, "Preview for sam@example.com", bb.text(`[data-testid="preview-f.subject"] [data-testid=preview-label]`))
	bb.waitSaved()

	// Send a test as Sam: type the address and click Send test at once.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=test-send] summary`)))
	br.WaitJS(`document.querySelector('[data-testid=test-send]').open`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=test-send-to]`)), chromedp.SendKeys(chromedp.CSS(`[data-testid=test-send-to]`), "me@example.com"))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=test-send-profile]`)), chromedp.SendKeys(chromedp.CSS(`[data-testid=test-send-profile]`), "u2"))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=test-send-submit]`)))
	br.WaitJS(`document.querySelector('[data-testid=test-send-ok]')`)
	require.Contains(t, bb.text(`[data-testid=test-send-ok]`), "[Test] Hi there!")

	// The Test inbox lists it, marked as a test, and renders it.
	br.Navigate(base + "/test-inbox")
	br.WaitJS(`document.querySelector('[data-testid=inbox-row]')`)
	row := bb.text(`[data-testid=inbox-row]`)
	require.Contains(t, row, "[Test] Hi there!")
	require.Contains(t, row, "me@example.com")
	require.Contains(t, row, "test")
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=inbox-row] a`)))
	br.WaitJS(`location.pathname.startsWith('/test-inbox/test-') && document.querySelector('iframe')`)
	require.True(t, strings.HasSuffix(browsertest.Eval[string](br, `document.querySelector('iframe').getAttribute('src')`), "/body"))
}

// TestPanelFirstClickBrowser: typing a variant's name and clicking "Add
// variant" at once both applies the name and adds the variant (the click
// used to be lost to the re-render of leaving the field).
func TestPanelFirstClickBrowser(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(`{"format": 1, "name": "Split", "nodes": [
		{"id": "start", "kind": "trigger_event", "position": {"x": 60, "y": 60}, "config": {"event": "signed_up"}},
		{"id": "ab", "kind": "split", "position": {"x": 400, "y": 60}, "config": {"variants": [{"name": "a", "weight": 100}]}}],
		"edges": [{"from": "start", "to": "ab"}]}`))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	bb.openEditor(id)
	bb.selectNode("ab")
	name := `#node-form [name="f.variants.0.name"]`
	bb.br.Do(chromedp.Click(chromedp.CSS(name)), chromedp.KeyEvent(kb.End), chromedp.SendKeys(chromedp.CSS(name), "lpha"))
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid="add-f.variants"]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid="f.variants-item"]').length === 2`)
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('ab').getData().config.variants.length === 2`)
	require.Equal(t, "alpha", browsertest.Eval[string](bb.br, `waymarkEditor.graph.getCellById('ab').getData().config.variants[0].name`))
	bb.waitSaved()
}
