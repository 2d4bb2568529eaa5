package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// Browser tests drive the editor in headless Chromium like a user: drag
// from the palette, connect ports with the mouse, type into the property
// panel, use the keyboard. They need WAYMARK_TEST_CHROMIUM.

// browserBundle is a served app with a signed-in browser.
type browserBundle struct {
	*uitest.Bundle
	t    *testing.T
	base string
	br   *browsertest.Browser
}

func setupBrowser(t *testing.T, role store.Role) *browserBundle {
	t.Helper()
	testenv.Chromium(t) // skips (or fails under CI) without Chromium
	b := uitest.Setup(t)
	b.CreateUser("ada@example.com", "correct horse battery", role)
	base := b.Listen()
	// The browser closes before the server stops (cleanups run last first).
	br := browsertest.New(t)
	bb := &browserBundle{Bundle: b, t: t, base: base, br: br}
	br.Navigate(bb.base + "/login")
	br.Do(
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=current-user]`)),
	)
	return bb
}

// createJourney makes a journey through the UI's form handler (not the
// browser) and returns its id.
func (bb *browserBundle) createJourney(form url.Values) string {
	bb.t.Helper()
	c := bb.Client()
	form.Set("_csrf", c.Login("ada@example.com", "correct horse battery"))
	resp, _ := c.PostForm("/journeys", form)
	require.Equal(bb.t, 303, resp.StatusCode)
	return strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/journeys/"), "/edit")
}

func (bb *browserBundle) openEditor(id string) {
	bb.t.Helper()
	bb.br.Navigate(bb.base + "/journeys/" + id + "/edit")
	bb.waitReady()
}

func (bb *browserBundle) waitReady() {
	bb.t.Helper()
	bb.br.WaitJS(`window.waymarkEditor && window.waymarkEditor.ready`)
}

type point struct{ X, Y float64 }

// center returns the viewport coordinates of an element's center.
func (bb *browserBundle) center(css string) point {
	bb.t.Helper()
	bb.br.WaitJS(fmt.Sprintf(`document.querySelector(%q)`, css))
	return browsertest.Eval[point](bb.br, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, css))
}

// dragToCanvas drags a palette item onto the canvas at (dx, dy) from the
// canvas's top-left corner and returns the new node's id.
func (bb *browserBundle) dragToCanvas(kind string, dx, dy float64) string {
	bb.t.Helper()
	before := browsertest.Eval[int](bb.br, `waymarkEditor.graph.getNodes().length`)
	from := bb.center(`[data-testid="palette-` + kind + `"]`)
	canvas := browsertest.Eval[point](bb.br, `(() => { const r = document.getElementById('canvas').getBoundingClientRect(); return {X: r.x, Y: r.y}; })()`)
	bb.br.Do(chromedp.DragAndDropXY(from.X, from.Y, canvas.X+dx, canvas.Y+dy))
	bb.br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getNodes().length === %d`, before+1))
	return browsertest.Eval[string](bb.br, `waymarkEditor.graph.getNodes().at(-1).id`)
}

func portCSS(node, port string) string {
	return fmt.Sprintf(`[data-testid="node-%s"] [port=%q]`, node, port)
}

// connect drags from a node's output port to another node's input port.
func (bb *browserBundle) connect(from, port, to string) {
	bb.t.Helper()
	before := browsertest.Eval[int](bb.br, `waymarkEditor.graph.getEdges().length`)
	a := bb.center(portCSS(from, "out:"+port))
	b := bb.center(portCSS(to, "in"))
	bb.br.Do(chromedp.DragAndDropXY(a.X, a.Y, b.X, b.Y, 12))
	bb.br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getEdges().length === %d`, before+1))
}

// selectNode clicks a node and waits for its property panel.
func (bb *browserBundle) selectNode(id string) {
	bb.t.Helper()
	p := bb.center(`[data-testid="node-` + id + `"] rect`)
	bb.br.Do(chromedp.MouseClickXY(p.X, p.Y))
	bb.br.WaitJS(fmt.Sprintf(`document.querySelector('#node-form[data-node-id=%q][data-ready]')`, id))
}

// fill types into a panel field and leaves it (Tab), which posts the form;
// it waits until the canvas has the server's answer.
func (bb *browserBundle) fill(name, text string) {
	bb.t.Helper()
	sel := fmt.Sprintf(`#node-form [name=%q], #settings-form [name=%q]`, name, name)
	bb.br.Do(
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).select && document.querySelector(%q).select()`, sel, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
	bb.submitField(sel, kb.Tab)
}

// choose picks an option of a panel select.
func (bb *browserBundle) choose(name, value string) {
	bb.t.Helper()
	sel := fmt.Sprintf(`#node-form [name=%q], #settings-form [name=%q]`, name, name)
	bb.waitPanelIdle()
	bb.br.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value)))
	bb.waitPanelIdle()
}

func (bb *browserBundle) submitField(sel, key string) {
	bb.t.Helper()
	bb.br.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector('.prop-form').wmSwapped = false`))
	bb.br.Do(chromedp.SendKeys(chromedp.CSS(sel), key))
	bb.waitPanelIdle()
}

// waitPanelIdle waits until no panel request is in flight.
func (bb *browserBundle) waitPanelIdle() {
	bb.t.Helper()
	time.Sleep(30 * time.Millisecond)
	bb.br.WaitJS(`!document.querySelector('.prop-form.htmx-request')`)
}

// waitSaved waits for the autosave to finish.
func (bb *browserBundle) waitSaved() {
	bb.t.Helper()
	bb.br.WaitJS(`document.getElementById('save-state').dataset.state === 'saved' && !waymarkEditor.state().dirty`)
}

func (bb *browserBundle) document() flows.Journey {
	bb.t.Helper()
	raw := browsertest.Eval[string](bb.br, `JSON.stringify(waymarkEditor.toDocument())`)
	var j flows.Journey
	require.NoError(bb.t, json.Unmarshal([]byte(raw), &j))
	return j
}

const xssTitle = `<img src=x onerror=alert(1)>`

// TestEditorBlankJourney builds a journey from nothing, as the issue
// describes: drag a webhook trigger, a condition and two emails from the
// palette, connect yes/no, fill the properties through the panel, see a
// validation error and fix it, publish, reload and find the same graph.
func TestEditorBlankJourney(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br

	// Create it from the journeys list.
	br.Navigate(bb.base + "/journeys")
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=new-journey]`)))
	br.Do(
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=new-journey-name]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-journey-name]`), "French onboarding"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-blank]`)),
	)
	bb.waitReady()
	br.WaitJS(`!document.getElementById('canvas-empty').hidden`)

	// Four nodes from the palette.
	hook := bb.dragToCanvas("trigger_webhook", 110, 200)
	cond := bb.dragToCanvas("condition", 360, 200)
	fr := bb.dragToCanvas("send_email", 640, 90)
	other := bb.dragToCanvas("send_email", 640, 330)
	require.Equal(t, []string{"trigger_webhook_1", "condition_1", "send_email_1", "send_email_2"}, []string{hook, cond, fr, other})
	br.WaitJS(`document.getElementById('canvas-empty').hidden`)

	// Connections: trigger → condition, yes → French email, no → the other.
	bb.connect(hook, "out", cond)
	bb.connect(cond, "yes", fr)
	bb.connect(cond, "no", other)

	// Properties through the panel.
	bb.selectNode(hook)
	bb.fill("f.profile_id", "event.body.user_id")
	br.WaitJS(`waymarkEditor.graph.getCellById('trigger_webhook_1').getData().config.profile_id === 'event.body.user_id'`)

	// A typo in the condition: the server's compile error shows inline,
	// and the node is marked on the canvas.
	bb.selectNode(cond)
	bb.fill("title", "Speaks French?")
	bb.fill("f.expr", `profile.locale = "fr"`)
	msg := browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid="error-f.expr"]`)))
	require.Contains(t, msg, "line 1")
	bb.waitSaved()
	br.WaitJS(`document.querySelector('[data-testid="node-condition_1"]').dataset.invalid === 'true'`)
	bb.fill("f.expr", `profile.locale == "fr"`)
	br.WaitJS(`!document.querySelector('[data-testid="error-f.expr"]')`)

	bb.selectNode(fr)
	bb.fill("title", "Bienvenue")
	bb.choose("f.connector", "sandbox")
	bb.fill("f.subject", "Bonjour {{ profile.first_name }} !")
	preview := browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid="preview-f.subject"] .preview-text`)))
	require.Equal(t, "Bonjour Ada !", preview, "the template preview renders the sample profile")
	bb.fill("f.body", "<p>Merci de votre inscription.</p>")

	bb.selectNode(other)
	bb.fill("title", xssTitle)
	bb.choose("f.connector", "sandbox")
	bb.fill("f.subject", "Welcome {{ profile.first_name }}")
	bb.fill("f.body", "<p>Thanks for signing up.</p>")

	bb.waitSaved()
	br.WaitJS(`waymarkEditor.state().problems.length === 0`)
	br.WaitJS(`document.getElementById('problems').hidden`)
	// The title is text on the canvas, never markup.
	require.Zero(t, browsertest.Eval[int](br, `document.querySelectorAll('img').length`))
	text := browsertest.Eval[string](br, `document.querySelector('[data-testid="node-send_email_2"]').textContent.replace(/\u00a0/g, ' ')`)
	require.Contains(t, text, "<img src=x")

	// Publish: the dialog confirms a first version.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish]`)))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=publish-first]`)))
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish-confirm]`)))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=publish-done]`)))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish-close]`)))
	bb.waitReady()
	br.WaitJS(`document.querySelector('.editor-bar [data-testid=journey-status]').textContent === 'Live'`)

	// After the reload, the same graph.
	got := bb.document()
	require.Equal(t, "French onboarding", got.Name)
	require.Len(t, got.Nodes, 4)
	titles := map[string]string{}
	for _, n := range got.Nodes {
		titles[n.ID] = n.Title
	}
	require.Equal(t, map[string]string{hook: "", cond: "Speaks French?", fr: "Bienvenue", other: xssTitle}, titles)
	require.ElementsMatch(t, []flows.Edge{
		{From: hook, To: cond}, {From: cond, Port: "yes", To: fr}, {From: cond, Port: "no", To: other},
	}, got.Edges)

	id := browsertest.Eval[string](br, `JSON.parse(document.getElementById('editor-data').textContent).journey.id`)
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, store.JourneyLive, j.Status)
	require.Equal(t, 1, j.LiveVersion)
	v, err := bb.Store.GetJourneyVersion(bb.Ctx, store.DefaultWorkspaceID, id, 1)
	require.NoError(t, err)
	live, err := flows.Parse(v.Document)
	require.NoError(t, err)
	require.Equal(t, `profile.locale == "fr"`, nodeByID(live, cond).Config["expr"])
	require.Equal(t, "Bonjour {{ profile.first_name }} !", nodeByID(live, fr).Config["subject"])
	require.Equal(t, "event.body.user_id", nodeByID(live, hook).Config["profile_id"])
	for _, n := range got.Nodes {
		require.Equal(t, nodeByID(live, n.ID).Position, n.Position, "positions persist")
	}
}

func nodeByID(j *flows.Journey, id string) flows.Node {
	for _, n := range j.Nodes {
		if n.ID == id {
			return n
		}
	}
	return flows.Node{}
}

// TestEditorUndoRedo deletes, moves and adds nodes, and undoes and redoes
// each with the keyboard.
func TestEditorUndoRedo(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	id := bb.createJourney(url.Values{"template": {"abandoned_cart"}})
	bb.openEditor(id)
	nodes := func() int { return browsertest.Eval[int](br, `waymarkEditor.graph.getNodes().length`) }
	edges := func() int { return browsertest.Eval[int](br, `waymarkEditor.graph.getEdges().length`) }
	require.Equal(t, 8, nodes())
	require.Equal(t, 7, edges())

	// Delete a node with its connections (Delete key).
	bb.selectNode("reminder")
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent(kb.Delete))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 7`)
	require.Equal(t, 5, edges())

	ctrl := chromedp.KeyModifiers(chromedp.ModifierCtrl)
	ctrlShift := chromedp.KeyModifiers(chromedp.ModifierCtrl, chromedp.ModifierShift)
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("z", ctrl))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 8`)
	require.Equal(t, 7, edges(), "undo brings the connections back")
	br.Do(chromedp.KeyEvent("z", ctrlShift))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 7`)
	br.Do(chromedp.KeyEvent("z", ctrl))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 8`)

	// Move a node with the mouse, then undo the move (toolbar button).
	start := browsertest.Eval[point](br, `(() => { const p = waymarkEditor.graph.getCellById('bought').getPosition(); return {X: p.x, Y: p.y}; })()`)
	p := bb.center(`[data-testid="node-bought"] rect`)
	br.Do(chromedp.DragAndDropXY(p.X, p.Y, p.X+60, p.Y+80, 8))
	br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getCellById('bought').getPosition().y !== %v`, start.Y))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-undo]`)))
	br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getCellById('bought').getPosition().y === %v`, start.Y))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-redo]`)))
	br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getCellById('bought').getPosition().y !== %v`, start.Y))

	// Add a node from the palette with the keyboard, undo it.
	br.Do(chromedp.Focus(chromedp.CSS(`[data-testid=palette-delay]`)), chromedp.KeyEvent(kb.Enter))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 9`)
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("z", ctrl))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 8`)

	// A config change through the panel is undone too.
	bb.selectNode("sms")
	bb.fill("f.body", "Last call!")
	br.WaitJS(`waymarkEditor.graph.getCellById('sms').getData().config.body === 'Last call!'`)
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("z", ctrl))
	br.WaitJS(`waymarkEditor.graph.getCellById('sms').getData().config.body !== 'Last call!'`)
	br.WaitJS(`document.querySelector('#node-form [name="f.body"]') && document.querySelector('#node-form [name="f.body"]').value !== 'Last call!'`)

	// Copy and paste the selection.
	bb.selectNode("has_phone")
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("c", ctrl), chromedp.KeyEvent("v", ctrl))
	br.WaitJS(`waymarkEditor.graph.getNodes().length === 9 && waymarkEditor.graph.getCellById('condition_1')`)

	// What is saved is what is on the canvas.
	bb.waitSaved()
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	saved, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	require.Len(t, saved.Nodes, 9)
	require.Len(t, saved.Edges, 7)
	require.NotEqual(t, start.Y, nodeByID(saved, "bought").Position.Y, "the redone move is saved")
}

// TestEditorTemplatePublish publishes a journey from the templates gallery
// in a handful of actions.
func TestEditorTemplatePublish(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	br.Navigate(bb.base + "/journeys")
	actions := 0
	click := func(css string) {
		t.Helper()
		actions++
		br.Do(chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Click(chromedp.CSS(css)))
	}
	click(`[data-testid=new-journey]`)
	click(`[data-testid=use-template-welcome_series]`)
	bb.waitReady()
	click(`[data-testid=publish]`)
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	click(`[data-testid=publish-confirm]`)
	click(`[data-testid=publish-close]`)
	bb.waitReady()
	require.Less(t, actions, 10)
	br.WaitJS(`document.querySelector('.editor-bar [data-testid=journey-status]').textContent === 'Live'`)
	require.Equal(t, "v1 live", browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid=live-version]`))))
	require.Len(t, bb.document().Nodes, 10)
}

// TestEditorConflict: a second editor's save is refused with a clear
// message, and nothing is lost.
func TestEditorConflict(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	br.AllowConsole(`status of 409`)
	id := bb.createJourney(url.Values{"template": {"birthday"}})
	bb.openEditor(id)

	// Someone else saves in between.
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	_, err = bb.Store.UpdateDraft(bb.Ctx, store.DefaultWorkspaceID, id, j.DraftRevision, "Birthday (Grace's)", j.Draft, "grace@example.com")
	require.NoError(t, err)

	br.Do(chromedp.Focus(chromedp.CSS(`#journey-name`)), chromedp.KeyEvent(kb.End), chromedp.KeyEvent(" v2"))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=conflict-dialog]`)))
	msg := browsertest.Run(br, chromedp.Text(chromedp.CSS(`#conflict-message`)))
	require.Contains(t, msg, "grace@example.com saved this journey")
	require.Equal(t, "conflict", browsertest.Eval[string](br, `document.getElementById('save-state').dataset.state`))
	got, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	require.Equal(t, "Birthday (Grace's)", got.Name, "the other person's save stands")

	// Keep my version as a copy.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=conflict-save-copy]`)))
	br.WaitJS(fmt.Sprintf(`!location.pathname.includes(%q)`, id))
	bb.waitReady()
	require.Equal(t, "Birthday greetings v2 (my copy)", browsertest.Run(br, chromedp.Value(chromedp.CSS(`#journey-name`))))
}

// TestEditorKeyboardSettingsLayout: keyboard navigation, zoom, auto-layout,
// the settings panel and the problems list.
func TestEditorKeyboardSettingsLayout(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	br := bb.br
	id := bb.createJourney(url.Values{"template": {"welcome_series"}})
	bb.openEditor(id)

	// ] selects the first step, Enter moves into its panel.
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent("]"))
	br.WaitJS(`document.querySelector('#node-form[data-node-id="start"][data-ready]')`)
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent(kb.Enter))
	br.WaitJS(`document.activeElement && document.activeElement.closest('#node-form')`)
	// Arrow keys move the selection.
	x := browsertest.Eval[float64](br, `waymarkEditor.graph.getCellById('start').getPosition().x`)
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent(kb.ArrowRight))
	br.WaitJS(fmt.Sprintf(`waymarkEditor.graph.getCellById('start').getPosition().x === %v`, x+10))

	// Zoom buttons and fit.
	before := browsertest.Run(br, chromedp.Text(chromedp.CSS(`#zoom-level`)))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-zoom-in]`)))
	br.WaitJS(fmt.Sprintf(`document.getElementById('zoom-level').textContent !== %q`, before))
	zoomed := browsertest.Run(br, chromedp.Text(chromedp.CSS(`#zoom-level`)))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-fit]`)))
	br.WaitJS(fmt.Sprintf(`document.getElementById('zoom-level').textContent !== %q`, zoomed))

	// Auto-layout: left to right along the edges, no overlaps. The
	// template's layout was made by hand, so Tidy up asks first.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tool-layout]`)))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=tidy-confirm]`)))
	bb.waitSaved()
	doc := bb.document()
	boxes := map[string]flows.Position{}
	for _, n := range doc.Nodes {
		boxes[n.ID] = n.Position
	}
	for _, e := range doc.Edges {
		require.Less(t, boxes[e.From].X, boxes[e.To].X, "%s → %s goes right", e.From, e.To)
	}
	for _, a := range doc.Nodes {
		for _, b := range doc.Nodes {
			if a.ID < b.ID && a.Position.X == b.Position.X {
				require.GreaterOrEqual(t, abs(a.Position.Y-b.Position.Y), 60.0, "%s and %s overlap", a.ID, b.ID)
			}
		}
	}

	// Journey settings: server-side validation, then saved in the draft.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=open-settings]`)))
	br.WaitJS(`document.querySelector('#settings-form[data-ready]')`)
	bb.fill("s.step_budget", "-5")
	br.WaitJS(`document.querySelector('[data-testid="error-s.step_budget"]')`)
	bb.fill("s.step_budget", "500")
	br.WaitJS(`!document.querySelector('[data-testid="error-s.step_budget"]')`)
	bb.choose("s.timezone", "Europe/Berlin")
	bb.waitSaved()
	j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
	require.NoError(t, err)
	saved, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	require.Equal(t, 500, saved.Settings.StepBudget)
	require.Equal(t, "Europe/Berlin", saved.Settings.Timezone)
	require.NotNil(t, saved.Settings.QuietHours, "other settings are kept")

	// A problem on the canvas: the list names it, and selecting it opens
	// the node with the field focused.
	bb.selectNode("is_fr")
	bb.fill("f.expr", " ")
	bb.waitSaved()
	br.WaitJS(`!document.getElementById('problems').hidden`)
	br.WaitJS(`document.querySelector('[data-testid="node-is_fr"]').dataset.invalid === 'true'`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=problems-toggle]`)))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=problem]`)))
	br.WaitJS(`document.activeElement && document.activeElement.name === 'f.expr'`)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestEditorViewer: a viewer sees the journey but cannot change it.
func TestEditorViewer(t *testing.T) {
	bb := setupBrowser(t, store.RoleViewer)
	br := bb.br
	bb.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := bb.Client()
	tok := c.Login("ed@example.com", "correct horse battery")
	resp, _ := c.PostForm("/journeys", url.Values{"_csrf": {tok}, "template": {"lead_scoring"}})
	require.Equal(t, 303, resp.StatusCode)
	id := strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/journeys/"), "/edit")
	bb.openEditor(id)
	require.Zero(t, browsertest.Eval[int](br, `document.querySelectorAll('[data-testid=palette], [data-testid=publish], [data-testid=tool-undo]').length`))
	br.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid=readonly-banner]`)))

	start := browsertest.Eval[float64](br, `waymarkEditor.graph.getCellById('score_pricing').getPosition().y`)
	bb.selectNode("score_pricing")
	p := bb.center(`[data-testid="node-score_pricing"] rect`)
	br.Do(chromedp.DragAndDropXY(p.X, p.Y, p.X+50, p.Y+90, 6))
	require.Equal(t, start, browsertest.Eval[float64](br, `waymarkEditor.graph.getCellById('score_pricing').getPosition().y`), "nodes do not move")
	require.True(t, browsertest.Eval[bool](br, `document.querySelector('#node-form [name="title"]').readOnly`))
	br.Do(chromedp.Focus(chromedp.CSS(`#canvas`)), chromedp.KeyEvent(kb.Delete))
	require.Equal(t, 9, browsertest.Eval[int](br, `waymarkEditor.graph.getNodes().length`))
	require.Equal(t, "Read-only", browsertest.Run(br, chromedp.Text(chromedp.CSS(`#save-state`))))
}

// TestEditorRoundTrip: opening a journey and saving it as drawn changes
// nothing, for every template (edge ports left out stay left out, configs
// and positions keep their values).
func TestEditorRoundTrip(t *testing.T) {
	bb := setupBrowser(t, store.RoleEditor)
	for _, key := range []string{"abandoned_cart", "ad_retargeting", "birthday", "lead_scoring", "reengagement", "welcome_series"} {
		id := bb.createJourney(url.Values{"template": {key}})
		bb.openEditor(id)
		raw := browsertest.Eval[string](bb.br, `JSON.stringify(waymarkEditor.toDocument())`)
		got, err := flows.Parse([]byte(raw))
		require.NoError(t, err, key)
		j, err := bb.Store.GetJourney(bb.Ctx, store.DefaultWorkspaceID, id)
		require.NoError(t, err)
		want, err := flows.Parse(j.Draft)
		require.NoError(t, err)
		a, err := flows.Marshal(want)
		require.NoError(t, err)
		b, err := flows.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(a), string(b), key)
	}
}
