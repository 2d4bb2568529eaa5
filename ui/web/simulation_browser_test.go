package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestEditorSimulation runs a simulation from the editor: a typed profile
// and a scripted event; the path is highlighted on the canvas, the timeline
// shows the branch's value and the rendered messages, and Previous / Next
// play it step by step.
func TestEditorSimulation(t *testing.T) {
	t.Parallel()
	testenv.Chromium(t)
	b := uitest.SetupSim(t)
	b.CreateUser("ada@example.com", "correct horse battery", store.RoleEditor)
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
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:write", "journeys:read")
	r := b.Call("POST", "/api/v1/journeys", key, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)

	bb.openEditor(jid)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=open-simulate]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sim-dialog]`)))
	br.Do(
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-sample]`), `{"external_id": "zoe", "email": "zoe@example.com", "timezone": "Europe/Paris", "attributes": {"first_name": "Zoé", "country": "FR"}}`),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-entry]`), `{"body": {"plan": "team"}}`),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-start]`), `2026-06-01T10:00:00Z`),
		chromedp.Click(chromedp.CSS(`[data-testid=sim-add-event]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=sim-ev-name]`), "page_viewed"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=sim-ev-after]`), "1d"),
		chromedp.Click(chromedp.CSS(`[data-testid=sim-run]`)),
	)
	br.WaitJS(`document.getElementById('sim-results').hasAttribute('data-loaded')`)
	// Every step in view (X6 mounts only the nodes in view).
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-fit]`)))
	br.WaitJS(`document.querySelector('[data-testid="node-done"][data-sim="current"]') !== null`)
	// X6 renders asynchronously: wait for a node's mark.
	waitSim := func(id, state string) {
		br.WaitJS(fmt.Sprintf(`document.querySelector('[data-testid="node-%s"]').getAttribute('data-sim') === %q`, id, state))
	}
	// The whole path first.
	waitSim("start", "visited")
	waitSim("is_fr", "visited")
	waitSim("tips_fr", "visited")
	waitSim("tips_en", "unvisited") // Zoé is French: the English tips are off her path
	waitSim("done", "current")
	// The eight connections taken, and only those.
	br.WaitJS(`document.querySelectorAll('.x6-edge[data-sim="visited"]').length === 8`)
	require.Equal(t, "Step 9 of 9", browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-position]').textContent`))
	text := browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-timeline]').textContent`)
	require.Contains(t, text, "Welcome to Waymark, Zoé!")
	require.Contains(t, text, "Thanks for signing up on team.")
	require.Contains(t, text, `profile.country == "FR" is true → yes`)
	require.Contains(t, text, "3 astuces pour bien démarrer")
	require.Contains(t, text, "to zoe@example.com")
	require.Equal(t, 3, browsertest.Eval[int](br, `document.querySelectorAll('[data-testid=sim-message]').length`))
	// Emails are shown rendered in a sandboxed frame, their HTML source
	// folded away.
	frames := browsertest.Eval[int](br, `document.querySelectorAll('[data-testid=sim-message-frame]').length`)
	require.Positive(t, frames)
	require.Equal(t, frames, browsertest.Eval[int](br, `[...document.querySelectorAll('[data-testid=sim-message-frame]')].filter(f => f.getAttribute('sandbox') === '' && f.srcdoc.includes('<')).length`))
	require.Equal(t, frames, browsertest.Eval[int](br, `document.querySelectorAll('.sim-msg-source:not([open])').length`))
	require.Contains(t, browsertest.Eval[string](br, `[...document.querySelectorAll('[data-testid=sim-message-frame]')].map(f => f.srcdoc).join(' ')`), "Thanks for signing up on team.")
	summary := browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-summary]').textContent`)
	require.Contains(t, summary, "3 messages rendered, none sent")

	// Step by step: back to the entry, then forward.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=sim-first]`)))
	waitSim("start", "current")
	waitSim("done", "unvisited")
	waitSim("welcome", "unvisited")
	require.Equal(t, "Step 1 of 9", browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-position]').textContent`))
	for i := 0; i < 3; i++ {
		br.Do(chromedp.Click(chromedp.CSS(`[data-testid=sim-next]`)))
	}
	require.Equal(t, "Step 4 of 9", browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-position]').textContent`))
	waitSim("is_fr", "current")
	waitSim("tips_fr", "unvisited")
	waitSim("wait_2d", "visited")
	cur := browsertest.Eval[string](br, `document.querySelector('.sim-step[aria-current=step]').textContent`)
	require.True(t, strings.Contains(cur, "2d") && strings.Contains(cur, "is true → yes"), cur)

	// Bad input is shown in the dialog, naming the field.
	br.AllowConsole(`400.*/simulate`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=sim-again]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sim-dialog]`)))
	br.Do(
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-ev-after]`), "soon"),
		chromedp.Click(chromedp.CSS(`[data-testid=sim-run]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sim-error]`)),
	)
	errText := browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-error]').textContent`)
	require.Contains(t, errText, "events[0].after")

	// Closing the panel clears the canvas.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=sim-cancel]`)), chromedp.Click(chromedp.CSS(`[data-testid=sim-close]`)))
	br.WaitJS(`document.querySelectorAll('[data-sim="visited"], [data-sim="current"], [data-sim="unvisited"]').length === 0`)
	require.False(t, browsertest.Eval[bool](br, `document.getElementById('canvas').hasAttribute('data-simulating')`))
	require.True(t, browsertest.Eval[bool](br, `document.getElementById('sim-results').hidden`))
}
