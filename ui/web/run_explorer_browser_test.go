package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestRunExplorerInBrowser: an editor finds a run by profile, opens its
// timeline and cancels it from the page; a hostile attribute stays text.
// Steps show by title (their ids muted beside them) and statuses in words.
func TestRunExplorerInBrowser(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.EventJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"name": "signed_up", "profile_id": "explorer",
		"properties": {"plan": "<img src=x onerror=alert(1)>"},
		"profile": {"external_id": "explorer", "email": "ex@example.com"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	runID := res.JSON(t)["events"].([]any)[0].(map[string]any)["entered"].([]any)[0].(string)
	b.Drain(b.Engine)

	// The way a person gets there: the Runs link, the status filter in
	// words, the profile id typed in.
	bb.br.Navigate(bb.base + "/journeys")
	bb.br.Do(
		chromedp.Click(chromedp.CSS(`[data-testid=nav-runs]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=runs-filter]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=filter-status]`), "waiting_event"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=filter-profile]`), "explorer"),
		chromedp.Click(chromedp.CSS(`[data-testid=runs-filter] button[type=submit]`)),
	)
	// The filtered page, not the one before it (which may also list one run).
	bb.br.WaitJS(`location.search.includes('profile=explorer') && document.readyState === 'complete' && document.querySelectorAll('[data-testid=run-row]').length === 1`)
	require.Equal(t, runID, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-row]').dataset.runId`))
	require.Equal(t, "Waiting for an event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=filter-status] option:checked').textContent.trim()`))
	require.Equal(t, "Waiting for an event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-row] [data-testid=run-status]').textContent.trim()`))
	require.Equal(t, "Wait for event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-row] [data-testid=run-step] [data-testid=step-name]').textContent.trim()`))
	require.Equal(t, "wait", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-row] [data-testid=step-id]').textContent.trim()`), "the id stays, for support")

	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=run-row] a[href^="/runs/"]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=step-row]').length >= 1`)
	require.Equal(t, "Waiting for an event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-status]').textContent.trim()`))
	require.Equal(t, "waiting_event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-status]').dataset.status`))
	require.Equal(t, []string{"Event"}, browsertest.Eval[[]string](bb.br, `[...document.querySelectorAll('[data-testid=step-row] [data-testid=step-name]')].map((e) => e.textContent.trim())`))
	require.Equal(t, "Wait for event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-facts] [data-testid=step-name]').textContent.trim()`))
	require.Zero(t, browsertest.Eval[int](bb.br, `document.querySelectorAll('img[src=x]').length`), "user data is text, never markup")

	// Accept the page's confirmation as a user would, and keep its text.
	require.True(t, browsertest.Eval[bool](bb.br, `(window.__asked = [], window.confirm = (m) => { window.__asked.push(m); return true; }, true)`))
	bb.br.Do(
		chromedp.Click(chromedp.CSS(`[data-testid=run-cancel]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=notice]`)),
	)
	bb.br.WaitJS(`document.querySelector('[data-testid=run-status]').textContent.trim() === 'Exited'`)
	run, err := b.Store.GetRun(b.Ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunExited, run.Status)
	require.Empty(t, bb.br.ConsoleErrors())
}
