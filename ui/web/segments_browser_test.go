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

// TestSegmentBuilderInBrowser: an editor builds a two-condition segment
// with the keyboard and the mouse (plan is "pro", age ≥ 18), watches the
// live estimate follow each condition, reads the generated expression,
// saves it, and counts it from the Segments list.
func TestSegmentBuilderInBrowser(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	for i := range 8 {
		plan := "free"
		if i%2 == 0 {
			plan = "pro"
		}
		upsertProfile(t, b, fmt.Sprintf("p%d", i), fmt.Sprintf("p%d@example.com", i), map[string]any{"plan": plan, "age": 14 + i})
	}
	// pro: p0 (14), p2 (16), p4 (18), p6 (20); adults among them: p4, p6.

	nth := func(testid string, i int) string {
		return fmt.Sprintf(`document.querySelectorAll('[data-testid=%s]')[%d]`, testid, i)
	}
	estimate := `document.querySelector('[data-testid=segment-estimate]').textContent`
	bb.br.Navigate(bb.base + "/segments/new")
	bb.br.WaitJS(estimate + ` === '8 profiles'`)

	bb.br.Do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid=segment-name]`), "adult_pros"),
		chromedp.Click(chromedp.CSS(`[data-testid=seg-add-condition]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=seg-condition]`)),
	)
	// The first condition: the field picker offers age first (attributes
	// by name); the arrow key moves it to plan. Then type the value.
	bb.br.Do(
		chromedp.Focus(chromedp.JSPath(nth("seg-field", 0))),
		chromedp.SendKeys(chromedp.JSPath(nth("seg-field", 0)), kb.ArrowDown),
	)
	bb.br.WaitJS(`document.querySelector('[data-testid=seg-field]').value === 'attr:plan' && document.querySelector('[data-testid=seg-op]').value === 'is'`)
	bb.br.WaitJS(`!document.querySelector('[data-testid=segment-estimate-error]').hidden`) // the value is missing
	bb.br.Do(chromedp.SendKeys(chromedp.JSPath(nth("seg-value", 0)), "pro"))
	bb.br.WaitJS(estimate + ` === '4 profiles'`)

	// The second: age (the first attribute offered), operator ≥ by arrow
	// keys, value 18.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=seg-add-condition]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=seg-condition]').length === 2`)
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=seg-condition]')[1].querySelector('[data-testid=seg-field]').value === 'attr:age'`)
	bb.br.Do(
		chromedp.Focus(chromedp.JSPath(nth("seg-op", 1))),
		chromedp.SendKeys(chromedp.JSPath(nth("seg-op", 1)), kb.ArrowDown+kb.ArrowDown+kb.ArrowDown+kb.ArrowDown+kb.ArrowDown),
	)
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=seg-condition]')[1].querySelector('[data-testid=seg-op]').value === 'gte'`)
	bb.br.Do(chromedp.SendKeys(chromedp.JSPath(nth("seg-value", 1)), "18"))
	bb.br.WaitJS(estimate + ` === '2 profiles'`)
	require.Equal(t, []string{"p6 — p6@example.com", "p4 — p4@example.com"},
		browsertest.Eval[[]string](bb.br, `[...document.querySelectorAll('[data-testid=segment-sample] li')].map((e) => e.textContent)`))

	// "Any" instead of "all" widens it; back to "all".
	bb.br.Do(
		chromedp.Focus(chromedp.CSS(`[data-testid=seg-match]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=seg-match]`), kb.ArrowDown),
	)
	bb.br.WaitJS(estimate + ` === '6 profiles'`)
	bb.br.Do(chromedp.SendKeys(chromedp.CSS(`[data-testid=seg-match]`), kb.ArrowUp))
	bb.br.WaitJS(estimate + ` === '2 profiles'`)

	want := `profile.plan == "pro" && (type(profile.age) in ["int", "float"] && profile.age >= 18)`
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=segment-show-expr]`)))
	bb.br.WaitJS(`!document.querySelector('[data-testid=segment-generated]').hidden`)
	require.Equal(t, want, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=segment-generated]').textContent`))

	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=segment-save]`)))
	bb.br.WaitJS(`location.search === '?saved=1'`)
	seg, err := b.Store.GetSegmentByName(b.Ctx, store.DefaultWorkspaceID, "adult_pros")
	require.NoError(t, err)
	require.Equal(t, want, seg.Expr)
	require.NotEmpty(t, seg.Rules)
	// The saved page draws the same rules again.
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=seg-condition]').length === 2 && ` + estimate + ` === '2 profiles'`)

	bb.br.Navigate(bb.base + "/segments")
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=segment-count-adult_pros]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=segment-row-adult_pros] [data-testid=segment-count]')?.textContent === '2 profiles'`)
	require.Empty(t, bb.br.ConsoleErrors())
}
