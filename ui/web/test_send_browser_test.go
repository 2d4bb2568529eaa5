package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestTestSendAndPlannerBrowser: an editor sends a test of an email step
// from its property panel (what was typed survives the panel re-rendering
// on a change), then publishes a version that deletes the step runs wait
// in, mapping them in the publish review.
func TestTestSendAndPlannerBrowser(t *testing.T) {
	testenv.Chromium(t)
	b, _, _ := uitest.SetupTestSends(t, true)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleEditor)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	b.ParkRuns(id, 2)

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
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=test-send] summary`)))
	br.WaitJS(`document.querySelector('[data-testid=test-send]').open`)
	// Typed through the DOM: chromedp's SendKeys into the <details> content
	// timed out in this suite. The change event bubbles to the node form,
	// which re-renders the panel (hx-preserve keeps the test form).
	br.Do(chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('[data-testid=test-send-to]'); e.value = 'me@example.com'; e.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	bb.waitPanelIdle()
	// Editing the step re-renders the panel: the test form keeps its input.
	br.Do(chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector('#node-form [name="f.subject"]'); e.value = 'Hello {{ profile.first_name }}'; e.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	bb.waitPanelIdle()
	br.WaitJS(`waymarkEditor.graph.getCellById('hello').getData().config.subject === 'Hello {{ profile.first_name }}'`)
	require.Equal(t, "me@example.com", browsertest.Eval[string](br, `document.querySelector('[data-testid=test-send-to]').value`))
	bb.waitSaved()
	require.True(t, browsertest.Eval[bool](br, `document.querySelector('[data-testid=test-send]').open`), "still open after re-renders")
	br.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=test-send-submit]').click()`))
	br.WaitJS(`document.querySelector('[data-testid=test-send-ok]')`)
	msg := browsertest.Eval[string](br, `document.querySelector('[data-testid=test-send-ok]').textContent`)
	require.Contains(t, msg, "[Test] Hello Sample")
	sends, err := b.Store.ListTestSends(b.Ctx, store.DefaultWorkspaceID, id, 10)
	require.NoError(t, err)
	require.Len(t, sends, 1)

	// Replace the waiting step through the API's draft, then publish from
	// the editor with a plan.
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))
	bb.openEditor(id)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish]`)))
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	br.WaitJS(`document.querySelector('[data-testid=migration-row][data-node-id=wait] [data-testid=waiting-count]').textContent === '2'`)
	// Choosing a move re-checks the totals at once (a dry run on change);
	// each click waits for the dialog's requests to settle, or a swap
	// still in flight would replace the form under the next click.
	idle := `!document.querySelector('#publish-dialog .htmx-request')`
	br.Do(chromedp.SetValue(chromedp.CSS(`[data-testid=plan-wait]`), "move:wait2d"))
	br.WaitJS(`document.querySelector('[data-testid=plan-totals]').textContent.includes('2 move') && ` + idle)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=plan-check]`)))
	br.WaitJS(`document.querySelector('[data-testid=plan-ok]') && ` + idle)
	require.True(t, strings.Contains(browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid=plan-totals]`))), "2 move"))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish-confirm]`)))
	br.WaitJS(`document.querySelector('[data-testid=publish-migrated]')`)
	require.Contains(t, browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid=publish-migrated]`))), "2 waiting run(s) moved")
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: id})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	for _, run := range runs {
		require.Equal(t, "wait2d", run.CurrentNode)
		require.Equal(t, 2, run.Version)
	}
}
