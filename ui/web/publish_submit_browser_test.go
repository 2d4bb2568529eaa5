package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestPublishFormSubmittedBeforeHtmxWiresIt: a publish form htmx has
// swapped in is wired only when it settles; a click on its submit button
// before then (a fast person, a re-check's answer landing under the
// cursor) must still publish through htmx, not submit the form natively,
// which navigated to the editor's URL with the form's fields, the CSRF
// token among them, in the query string.
func TestPublishFormSubmittedBeforeHtmxWiresIt(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	r = bb.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body))
	r = bb.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))

	bb.openEditor(id)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish]`)))
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	// Put in a copy of the form, as a swap does, and submit it at once,
	// before htmx has processed it.
	br.Do(chromedp.Evaluate[chromedp.Void](`(() => {
		const old = document.getElementById('publish-form');
		const fresh = old.cloneNode(true);
		old.replaceWith(fresh);
		fresh.requestSubmit(fresh.querySelector('[data-testid=publish-confirm]'));
	})()`))
	br.WaitJS(`document.querySelector('[data-testid=publish-done]') !== null`)
	require.Equal(t, "", browsertest.Eval[string](br, `location.search`), "the page stayed; no form fields in its URL")
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, 2, j.LiveVersion, "published through htmx")
}

// TestPanelFormSubmittedBeforeHtmxWiresIt: the same for the side panel's
// node form: Enter in a field of a form just swapped in, before htmx has
// wired it, applies the change through htmx; the page stays, with no
// form fields (the CSRF token among them) in its URL.
func TestPanelFormSubmittedBeforeHtmxWiresIt(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	bb.openEditor(id)
	bb.selectNode("wait")
	br.Do(chromedp.Evaluate[chromedp.Void](`(() => {
		const old = document.getElementById('node-form');
		const fresh = old.cloneNode(true);
		old.replaceWith(fresh);
		fresh.querySelector('[name="title"]').value = 'Wait one day';
		fresh.requestSubmit();
	})()`))
	br.WaitJS(`waymarkEditor.graph.getCellById('wait').getData().title === 'Wait one day'`)
	require.Equal(t, "", browsertest.Eval[string](br, `location.search`), "the page stayed; no form fields in its URL")
}
