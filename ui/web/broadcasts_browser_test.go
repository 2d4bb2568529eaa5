package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// TestBroadcastsInBrowser: an editor creates a broadcast on the page (a
// refused submit first names the field and keeps what was typed), watches
// its numbers refresh until it is done while the worker's trigger pass
// enters the audience, then schedules another and cancels it.
func TestBroadcastsInBrowser(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	for i := range 8 {
		p := upsertProfile(t, b, fmt.Sprintf("p%d", i), fmt.Sprintf("p%d@example.com", i), map[string]any{"plan": map[bool]string{true: "pro", false: "free"}[i < 6]})
		if i == 0 {
			_, _, err := b.Store.UpsertProfile(b.Ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: p.ExternalID,
				Consent: map[string]string{"email": "unsubscribed"}})
			require.NoError(t, err)
		}
	}

	bb.br.Navigate(bb.base + "/broadcasts")
	bb.br.WaitJS(`document.querySelector('[data-testid=broadcasts-empty]') !== null`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=new-broadcast]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=broadcast-form]') !== null`)
	// Select the default audience (true) and type over it.
	browsertest.Eval[bool](bb.br, `(document.querySelector("#audience").select(), true)`)
	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`#audience`), `profile.plan == "pro"`),
		chromedp.SendKeys(chromedp.CSS(`#subject`), "Hello {{ profile.external_id }}"),
		chromedp.SendKeys(chromedp.CSS(`#html`), "<p>News</p>"),
		chromedp.Click(chromedp.CSS(`[data-testid=broadcast-submit]`)),
	)
	// No name: the form comes back saying so, with the rest kept.
	bb.br.WaitJS(`document.querySelector('[data-testid=error-name]') !== null`)
	require.Equal(t, `profile.plan == "pro"`, browsertest.Eval[string](bb.br, `document.querySelector('#audience').value`))
	require.Equal(t, "true", browsertest.Eval[string](bb.br, `document.querySelector('#name').getAttribute('aria-invalid')`))
	require.Equal(t, "false", browsertest.Eval[string](bb.br, `document.querySelector('#audience').getAttribute('aria-invalid')`))
	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`#name`), "June news"),
		chromedp.Click(chromedp.CSS(`[data-testid=broadcast-submit]`)),
	)
	bb.br.WaitJS(`location.pathname.startsWith('/broadcasts/') && document.querySelector('[data-testid=broadcast-progress]') !== null`)
	require.Contains(t, []string{"scheduled", "sending"}, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=broadcast-progress]').dataset.status`))
	require.Equal(t, `profile.plan == "pro"`, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=broadcast-audience]').textContent`))

	// The worker's pass: the page follows without a reload by hand.
	require.NoError(t, worker.NewTriggers(b.Engine, b.Store, nil, worker.TriggersConfig{Batch: 2}).RunOnce(b.Ctx))
	b.Drain(b.Engine)
	bb.br.WaitJS(`document.querySelector('[data-testid=broadcast-progress]').dataset.status === 'done'`)
	num := func(id string) string {
		return strings.TrimSpace(browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=`+id+`]').textContent`))
	}
	require.Equal(t, "6", num("n-matched"))
	require.Equal(t, "5", num("n-sent"))
	require.Equal(t, "1", num("n-no-consent"))
	require.Equal(t, "0", num("n-waiting"))
	require.False(t, browsertest.Eval[bool](bb.br, `document.querySelector('[data-testid=broadcast-cancel]') !== null`), "an ended broadcast offers no cancel")

	// A second one, for tomorrow, cancelled before its time.
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02T15:04")
	bb.br.Navigate(bb.base + "/broadcasts/new")
	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`#name`), "Tomorrow"),
		chromedp.SetValue(chromedp.CSS(`#channel`), "sms"),
		chromedp.SendKeys(chromedp.CSS(`#text`), "See you"),
		chromedp.Click(chromedp.CSS(`[data-testid=when-later]`)),
		chromedp.SetValue(chromedp.CSS(`#scheduled_at`), tomorrow),
		chromedp.Click(chromedp.CSS(`[data-testid=broadcast-submit]`)),
	)
	bb.br.WaitJS(`document.querySelector('[data-testid=broadcast-progress]') !== null && document.querySelector('[data-testid=broadcast-progress]').dataset.status === 'scheduled'`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=broadcast-cancel]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=broadcast-progress]') !== null && document.querySelector('[data-testid=broadcast-progress]').dataset.status === 'cancelled'`)
	require.False(t, browsertest.Eval[bool](bb.br, `document.querySelector('[data-testid=broadcast-cancel]') !== null`))

	bb.br.Navigate(bb.base + "/broadcasts")
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=broadcast-row]').length === 2`)
	bb.br.AllowConsole("422") // the refused submit
	require.Empty(t, bb.br.ConsoleErrors())
}
