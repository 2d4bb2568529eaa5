package ui_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
)

// TestRunExplorerInBrowser: an editor finds a run by profile, opens its
// timeline and cancels it from the page; a hostile attribute stays text.
func TestRunExplorerInBrowser(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.testBundle
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	res := b.call("POST", "/api/v1/journeys", admin, []byte(eventJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)
	require.Equal(t, 200, b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).status)
	res = b.call("POST", "/api/v1/events", admin, []byte(`{"name": "signed_up", "profile_id": "explorer",
		"properties": {"plan": "<img src=x onerror=alert(1)>"},
		"profile": {"external_id": "explorer", "email": "ex@example.com"}}`))
	require.Equal(t, 202, res.status, string(res.body))
	runID := res.json(t)["events"].([]any)[0].(map[string]any)["entered"].([]any)[0].(string)
	b.drain(b.engine)

	bb.br.Navigate(bb.base + "/runs?profile=explorer")
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=run-row]').length === 1`)
	require.Equal(t, runID, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-row]').dataset.runId`))

	bb.br.Navigate(bb.base + "/runs/" + runID)
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=step-row]').length >= 1`)
	require.Equal(t, "waiting_event", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=run-status]').textContent.trim()`))
	require.Zero(t, browsertest.Eval[int](bb.br, `document.querySelectorAll('img[src=x]').length`), "user data is text, never markup")

	// Accept the page's confirmation as a user would, and keep its text.
	require.True(t, browsertest.Eval[bool](bb.br, `(window.__asked = [], window.confirm = (m) => { window.__asked.push(m); return true; }, true)`))
	bb.br.Do(
		chromedp.Click(chromedp.CSS(`[data-testid=run-cancel]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=notice]`)),
	)
	bb.br.WaitJS(`document.querySelector('[data-testid=run-status]').textContent.trim() === 'exited'`)
	run, err := b.store.GetRun(b.ctx, runID)
	require.NoError(t, err)
	require.Equal(t, store.RunExited, run.Status)
	require.Empty(t, bb.br.ConsoleErrors())
}
