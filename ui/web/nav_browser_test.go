package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
)

// TestMainNavigation: a viewer reaches the audience pages from the top
// bar, as a person does, by clicking its links.
func TestMainNavigation(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleViewer)
	br := bb.br
	br.Navigate(bb.base + "/journeys")
	for _, tc := range []struct{ link, path, page string }{
		{"nav-segments", "/segments", "segments-empty"},
		{"nav-broadcasts", "/broadcasts", "broadcasts-empty"},
		{"nav-runs", "/runs", ""},
	} {
		br.Do(chromedp.Click(chromedp.CSS(`[data-testid=` + tc.link + `]`)))
		br.WaitJS(`location.pathname === '` + tc.path + `' && document.readyState === 'complete'`)
		if tc.page != "" {
			br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=` + tc.page + `]`)))
		}
		require.Equal(t, tc.path, browsertest.Eval[string](br, `location.pathname`))
	}
}
