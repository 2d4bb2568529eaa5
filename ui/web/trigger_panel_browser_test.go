package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// grantClipboard lets the page write and the test read the clipboard.
func (bb *browserBundle) grantClipboard() {
	bb.t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		bb.br.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: bb.base})
			return err
		}))
	}
}

// clipboard reads what the page copied.
func (bb *browserBundle) clipboard() string {
	bb.t.Helper()
	return browsertest.Eval[string](bb.br, `navigator.clipboard.readText()`)
}

// copyAndRead clicks a copy button and returns what landed on the
// clipboard.
func (bb *browserBundle) copyAndRead(testid string) string {
	bb.t.Helper()
	sel := `[data-testid=` + testid + `]`
	bb.br.Do(chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText('')`, chromedp.EvalAwaitPromise))
	bb.br.Do(chromedp.Click(chromedp.CSS(sel)))
	bb.br.WaitJS(`document.querySelector('` + sel + `').dataset.copied === 'true'`)
	return bb.clipboard()
}

// placed gives the named nodes of a journey document canvas positions
// in a row: the editor draws a node without one at the origin, so nodes
// of a document written without positions lie on top of each other.
func placed(doc string, ids ...string) string {
	for i, id := range ids {
		doc = strings.Replace(doc, `{"id": "`+id+`", `, fmt.Sprintf(`{"id": %q, "position": {"x": %d, "y": 60}, `, id, 60+i*340), 1)
	}
	return doc
}

func (bb *browserBundle) text(sel string) string {
	bb.t.Helper()
	return browsertest.Eval[string](bb.br, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
}

// TestTriggerPanelBrowser connects a webhook trigger as a marketer would:
// select the trigger, copy the URL, reveal and copy the secret, rotate it,
// listen, send a signed request (here, from the test), see its body and
// click its values into the mapping fields, which the canvas then saves.
func TestTriggerPanelBrowser(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	admin := bb.APIKey(store.DefaultWorkspaceID, "admin")
	r := bb.Call("POST", "/api/v1/journeys", admin, []byte(placed(strings.Replace(uitest.HookJourney, `"reentry": "never"`, `"reentry": "always"`, 1), "start", "hello")))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	bb.grantClipboard()

	bb.openEditor(id)
	bb.selectNode("start")
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-url]')`)
	hook := bb.Call("GET", "/api/v1/journeys/"+id+"/hook", admin, nil).JSON(t)
	url := hook["url"].(string)
	require.Equal(t, url, bb.text(`[data-testid=hook-url]`))
	require.Equal(t, url, bb.copyAndRead("copy-url"))
	require.False(t, browsertest.Eval[bool](bb.br, `document.body.textContent.includes('whsec_')`), "hidden until revealed")

	// Reveal, copy the secret and the example.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=reveal-secret]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-secret]')`)
	secret := hook["secrets"].([]any)[0].(string)
	require.Equal(t, secret, bb.text(`[data-testid=hook-secret]`))
	require.Equal(t, secret, bb.copyAndRead("copy-secret-0"))
	curl := bb.copyAndRead("copy-curl")
	require.Contains(t, curl, "SECRET='"+secret+"'")
	require.Contains(t, curl, "webhook-signature: v1,$SIG")

	// Rotate, after confirming: the new secret first, the old one still
	// listed with its end.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=rotate] summary`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=rotate]').open`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=rotate-confirm]`)))
	bb.br.WaitJS(`document.querySelectorAll('[data-testid=hook-secret]').length === 2`)
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-notice]')`)
	rotated := bb.Call("GET", "/api/v1/journeys/"+id+"/hook", admin, nil).JSON(t)["secrets"].([]any)
	require.Equal(t, rotated[0].(string), bb.text(`[data-testid=hook-secret]`))
	require.Equal(t, secret, rotated[1].(string))
	require.Contains(t, bb.copyAndRead("copy-curl"), "SECRET='"+rotated[0].(string)+"'", "the example signs with the new secret")

	// Listen, then a system sends a request.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=listen-start]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-listen]').dataset.state === 'listening'`)
	path := strings.TrimPrefix(url, "http://waymark.test")
	body := []byte(`{"account": {"id": "acc_77", "contact-email": "mara@example.com"}, "plan": "pro"}`)
	res := bb.PostHook(path, rotated[0].(string), "browser-1", time.Time{}, body)
	require.Equal(t, 409, res.Status, "a draft: processed as usual, no run")
	bb.br.WaitJS(`document.querySelector('[data-tp-expr="event.body.account.id"]')`)
	require.Equal(t, "idle", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid=hook-listen]').dataset.state`))
	require.Contains(t, bb.text(`[data-testid=arrival]`), "journey_not_live")

	// Click a value: it fills Profile ID (chosen by default).
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-tp-expr="event.body.account.id"]`)))
	bb.waitPanelIdle()
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('start').getData().config.profile_id === 'event.body.account.id'`)
	require.Equal(t, "event.body.account.id", browsertest.Eval[string](bb.br, `document.querySelector('#node-form [name="f.profile_id"]').value`))

	// Focus the Email field, then click a value with an odd key: the
	// expression is quoted, and Email gets it.
	bb.br.Do(chromedp.Click(chromedp.CSS(`#node-form [name="f.email"]`)))
	bb.br.WaitJS(`document.querySelector('[data-tp-target="f.email"]').getAttribute('aria-pressed') === 'true'`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-tp-expr='event.body.account["contact-email"]']`)))
	bb.waitPanelIdle()
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('start').getData().config.email === 'event.body.account["contact-email"]'`)
	require.Contains(t, bb.text(`[data-testid=fill-status]`), `Email is now event.body.account["contact-email"]`)

	// The panel re-rendered twice: what was revealed and received stays.
	require.Equal(t, 2, browsertest.Eval[int](bb.br, `document.querySelectorAll('[data-testid=hook-secret]').length`))
	require.True(t, browsertest.Eval[bool](bb.br, `!!document.querySelector('[data-tp-expr="event.body.plan"]')`))
	require.Equal(t, 0, browsertest.Eval[int](bb.br, `document.querySelector('#node-form').dataset.errors|0`), "the expressions are valid")

	// Saved: the draft maps the profile from the captured body's fields.
	bb.waitSaved()
	doc := bb.Call("GET", "/api/v1/journeys/"+id, admin, nil).JSON(t)
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	require.Contains(t, string(raw), `event.body.account.id`)
	require.Contains(t, string(raw), `event.body.account[\"contact-email\"]`)

	// Switch to GitHub-style signatures, after confirming: the scheme and
	// the example follow.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=scheme] summary`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=scheme]').open`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=scheme-github]`)))
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-scheme]').dataset.scheme === 'github'`)
	require.Contains(t, strings.ToLower(bb.copyAndRead("copy-curl")), "x-hub-signature-256")
	require.Equal(t, "github", bb.Call("GET", "/api/v1/journeys/"+id+"/hook", admin, nil).JSON(t)["scheme"])

	// Hide again.
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=hide-secret]`)))
	bb.br.WaitJS(`!document.querySelector('[data-testid=hook-secret]') && document.querySelector('[data-testid=reveal-secret]')`)
}

// TestEventTriggerPanelBrowser: an event trigger's panel lists the names
// the workspace received; clicking one sets the trigger's event, and the
// example request follows.
func TestEventTriggerPanelBrowser(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write", "events:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(placed(uitest.EventJourney, "start", "wait", "thanks")))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	for _, name := range []string{"signed_up", "trial_started"} {
		r = bb.Call("POST", "/api/v1/events", key, []byte(`{"name": "`+name+`", "profile_id": "u1"}`))
		require.Equal(t, 202, r.Status, string(r.Body))
	}
	bb.grantClipboard()

	bb.openEditor(id)
	bb.selectNode("start")
	bb.br.WaitJS(`document.querySelector('[data-testid=recent-events]')`)
	require.Contains(t, bb.text(`[data-testid=event-curl]`), `"name":"signed_up"`)
	require.Equal(t, "true", browsertest.Eval[string](bb.br, `document.querySelector('[data-tp-event=signed_up]').getAttribute('aria-pressed')`))

	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-tp-event=trial_started]`)))
	bb.waitPanelIdle()
	bb.br.WaitJS(`waymarkEditor.graph.getCellById('start').getData().config.event === 'trial_started'`)
	bb.br.WaitJS(`document.querySelector('[data-testid=event-curl]').textContent.includes('"name":"trial_started"')`)
	require.Equal(t, "true", browsertest.Eval[string](bb.br, `document.querySelector('[data-tp-event=trial_started]').getAttribute('aria-pressed')`))
	require.Contains(t, bb.copyAndRead("copy-event-curl"), `"name":"trial_started"`)
	bb.waitSaved()
}

// TestTriggerPanelViewerBrowser: a viewer sees the hook URL (and can copy
// it) but neither the signing secret nor "Listen", as the permission
// table says (ui/permissions.go).
func TestTriggerPanelViewerBrowser(t *testing.T) {
	bb := setupBrowser(t, store.RoleViewer)
	admin := bb.APIKey(store.DefaultWorkspaceID, "admin")
	r := bb.Call("POST", "/api/v1/journeys", admin, []byte(placed(uitest.HookJourney, "start", "hello")))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	url := bb.Call("GET", "/api/v1/journeys/"+id+"/hook", admin, nil).JSON(t)["url"].(string)
	bb.grantClipboard()

	bb.openEditor(id)
	bb.selectNode("start")
	bb.br.WaitJS(`document.querySelector('[data-testid=hook-url]')`)
	require.Equal(t, url, bb.text(`[data-testid=hook-url]`))
	require.Equal(t, url, bb.copyAndRead("copy-url"))
	require.True(t, browsertest.Eval[bool](bb.br, `!!document.querySelector('[data-testid=hook-secret-hidden]')`))
	for _, testid := range []string{"reveal-secret", "hook-secret", "hook-curl", "rotate", "listen-start"} {
		require.False(t, browsertest.Eval[bool](bb.br, `!!document.querySelector('[data-testid=`+testid+`]')`), testid)
	}
	require.False(t, browsertest.Eval[bool](bb.br, `document.body.textContent.includes('whsec_')`))
}
