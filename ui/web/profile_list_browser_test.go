package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
)

// TestProfilesPageInBrowser: an editor opens Profiles from the main
// navigation, searches by the start of an email, filters on a number
// attribute, pages on, and opens a profile whose id needs escaping.
func TestProfilesPageInBrowser(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	for i := range 55 {
		upsertProfile(t, b, fmt.Sprintf("p%02d", i), fmt.Sprintf("user%02d@example.com", i), map[string]any{"score": i})
	}
	upsertProfile(t, b, "vip/1 ü", "grace@example.com", map[string]any{"score": 99, "plan": "pro"})

	rows := `[...document.querySelectorAll('[data-testid=profile-row]')].map((r) => r.dataset.externalId)`
	bb.br.Navigate(bb.base + "/journeys")
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=nav-profiles]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=profile-row]').length === 50`)

	// The next page holds the rest.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=profiles-next]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=profile-row]').length === 6`)
	require.Equal(t, []string{"p50", "p51", "p52", "p53", "p54", "vip/1 ü"}, browsertest.Eval[[]string](bb.br, rows))

	// Search by the start of an email, pressing Enter.
	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid=profiles-search]`), "GRACE@"+kb.Enter),
	)
	bb.br.WaitJS(`location.search.includes('q=GRACE') && document.querySelectorAll('[data-testid=profile-row]').length === 1`)
	require.Equal(t, "email", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=profile-row]').dataset.matched`))

	// Filter on a number: score ≥ 53, whatever the search was.
	bb.br.Do(
		chromedp.Click(chromedp.CSS(`[data-testid=profiles-clear]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=profiles-filter]`)),
	)
	bb.br.WaitJS(`location.search === ''`)
	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid=profiles-attr]`), "score"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=profiles-op]`), "gte"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=profiles-value]`), "53"),
		chromedp.Click(chromedp.CSS(`[data-testid=profiles-submit]`)),
	)
	bb.br.WaitJS(`location.search.includes('op=gte')`)
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=profile-row]').length === 3`)
	require.Equal(t, []string{"p53", "p54", "vip/1 ü"}, browsertest.Eval[[]string](bb.br, rows))
	require.Equal(t, []string{"53", "54", "99"}, browsertest.Eval[[]string](bb.br, `[...document.querySelectorAll('[data-testid=profile-attr-value]')].map((e) => e.textContent.trim())`))
	require.Equal(t, "≥", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=profiles-op] option:checked').textContent`), "the form keeps the filter")

	// A value that is not a number: said by the form, nothing lost.
	bb.br.Do(
		chromedp.SetValue(chromedp.CSS(`[data-testid=profiles-value]`), "lots"),
		chromedp.Click(chromedp.CSS(`[data-testid=profiles-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=profiles-error-value]`)),
	)
	require.Equal(t, "score", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=profiles-attr]').value`))
	require.Equal(t, "true", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=profiles-value]').getAttribute('aria-invalid')`))

	// Open a profile whose id has a slash, a space and an accent.
	bb.br.Navigate(bb.base + "/profiles?q=vip")
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=profile-link]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=profile-id]') !== null`)
	require.Equal(t, "vip/1 ü", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=profile-id]').textContent`))
	require.Equal(t, "/profiles/vip%2F1%20%C3%BC", browsertest.Eval[string](bb.br, `location.pathname`))
	bb.br.AllowConsole("400") // the refused filter above
	require.Empty(t, bb.br.ConsoleErrors())
}
