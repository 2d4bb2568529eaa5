package web_test

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
)

// The attribute trigger is in the palette with the other triggers, and its
// panel form (generated from the spec) edits it: a bad attribute name
// shows inline, the condition sees change.old and change.new, and the
// journey publishes.
func TestEditorAttributeTrigger(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	id := bb.createJourney(url.Values{"name": {"Upgrades"}})
	bb.openEditor(id)

	item := `[data-testid="palette-trigger_attribute"]`
	require.Contains(t, browsertest.Run(br, chromedp.Text(chromedp.CSS(item))), "Attribute change")
	require.Equal(t, "Triggers", browsertest.Eval[string](br, `document.querySelector('[data-testid="palette-trigger_attribute"]').closest('.palette-group').querySelector('h3').textContent.trim()`),
		"listed with the triggers")

	trig := bb.dragToCanvas("trigger_attribute", 110, 200)
	done := bb.dragToCanvas("exit", 420, 200)
	require.Equal(t, "trigger_attribute_1", trig)
	bb.connect(trig, "out", done)

	bb.selectNode(trig)
	for _, name := range []string{"f.attribute", "f.from", "f.to", "f.expr"} {
		require.True(t, browsertest.Eval[bool](br, `!!document.querySelector('#node-form [name="`+name+`"]')`), "the form has %s", name)
	}
	bb.fill("f.attribute", "external_id")
	require.Contains(t, browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid="error-f.attribute"]`))), "external_id cannot be changed")
	bb.fill("f.attribute", "plan")
	br.WaitJS(`!document.querySelector('[data-testid="error-f.attribute"]') || document.querySelector('[data-testid="error-f.attribute"]').textContent === ''`)
	bb.fill("f.from", "trial")
	bb.fill("f.to", "pro")
	bb.fill("f.expr", `change.new != change.old && profile.country == "FR"`)
	bb.waitSaved()
	br.WaitJS(`waymarkEditor.state().problems.length === 0`)

	got := bb.document()
	cfg := nodeByID(&got, trig).Config
	require.Equal(t, "plan", cfg["attribute"])
	require.Equal(t, "trial", cfg["from"])
	require.Equal(t, "pro", cfg["to"])
	require.Equal(t, `change.new != change.old && profile.country == "FR"`, cfg["expr"])

	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish]`)))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=publish-first]`)))
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish-confirm]`)))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=publish-done]`)))
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, store.JourneyLive, j.Status)
}
