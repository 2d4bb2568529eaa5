package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// TestCanvasCountersReadableAndReport: the counters under each step stay
// about 12 px on screen at 100%, 50% and 25% zoom (with shorter wording
// as the steps get smaller) and sit under their step; they refresh on
// their own; the strip's Report link opens the report, whose steps are
// named by title and whose chart labels all fit inside their charts.
func TestCanvasCountersReadableAndReport(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleViewer)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	doc := strings.Replace(canvasStatsJourney, `"kind": "delay", "position"`, `"kind": "delay", "title": "Wait an hour", "position"`, 1)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(doc))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	enter := func(from, to int) {
		var evs []string
		for i := from; i < to; i++ {
			group := "y"
			if i < 2 {
				group = "x"
			}
			evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "p%[1]d", "properties": {"group": %[2]q},
				"profile": {"external_id": "p%[1]d", "email": "p%[1]d@example.com"}}`, i, group))
		}
		res := b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
		require.Equal(t, 202, res.Status, string(res.Body))
		b.DrainDue(eng, clk)
	}
	enter(0, 5)

	br := bb.br
	bb.openEditor(jid)
	br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	const statsEl = `document.querySelector('[data-testid="node-wait"] [data-testid="node-stats"]')`
	// What a person sees of the wait step's counters: the text, its height
	// on screen, and the gap between the step's box and the text.
	type seen struct {
		Text   string
		Height float64
		Gap    float64
	}
	look := func() seen {
		return browsertest.Eval[seen](br, `(() => {
			const s = `+statsEl+`;
			const body = document.querySelector('[data-testid="node-wait"] rect');
			if (!s || !body) { return {Text: '', Height: 0, Gap: -1}; }
			const r = s.getBoundingClientRect(), b = body.getBoundingClientRect();
			return {Text: s.textContent.replace(/\u00a0/g, ' '), Height: r.height, Gap: r.top - b.bottom};
		})()`)
	}
	for _, c := range []struct {
		zoom float64
		text string
	}{{1, "3 entered · 3 waiting"}, {0.5, "3 in · 3 wait"}, {0.25, "3"}, {1, "3 entered · 3 waiting"}} {
		browsertest.Eval[bool](br, fmt.Sprintf(`(waymarkEditor.graph.zoomTo(%v), waymarkEditor.graph.centerCell(waymarkEditor.graph.getCellById('wait')), true)`, c.zoom))
		// The counters are redrawn once the zoom settles.
		br.WaitJS(fmt.Sprintf(`Number(document.getElementById('journey-stats').getAttribute('data-zoom-drawn')) === %v`, c.zoom))
		br.WaitJS(fmt.Sprintf(`(%s || {textContent: ''}).textContent.replace(/\u00a0/g, ' ') === %q`, statsEl, c.text))
		// X6 draws the new size on a later frame than the text.
		br.WaitJS(fmt.Sprintf(`(() => { const h = %s.getBoundingClientRect().height; return h >= 11 && h <= 22; })()`, statsEl))
		got := look()
		require.Equal(t, c.text, got.Text, "zoom %v", c.zoom)
		require.InDelta(t, 16, got.Height, 6, "zoom %v: about 12 px text whatever the zoom", c.zoom)
		require.GreaterOrEqual(t, got.Gap, 0.0, "zoom %v: under the step, not over it", c.zoom)
		require.Less(t, got.Gap, 20.0, "zoom %v: close to its step", c.zoom)
	}

	// New entries show without a click: the strip refreshes on its own
	// (every 30 s; once a second here).
	require.Equal(t, "5", browsertest.Eval[string](br, `document.querySelector('[data-testid="stat-entries"]').textContent`))
	browsertest.Eval[bool](br, `(document.getElementById('journey-stats').setAttribute('data-refresh-seconds', '1'), true)`)
	enter(5, 7)
	br.WaitJS(`document.querySelector('[data-testid="stat-entries"]').textContent === '7'`)
	br.WaitJS(statsEl + `.textContent.replace(/\u00a0/g, ' ') === '5 entered · 5 waiting'`)
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid="stats-updated"]').textContent`), "refreshes every 1 s")

	// The report, from the editor.
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=stats-report]`)))
	br.WaitJS(`!!document.querySelector('[data-testid=steps-table]')`)
	steps := browsertest.Eval[[]string](br, `Array.from(document.querySelectorAll('[data-testid=step-row] th')).map((e) => e.textContent.trim().replace(/\s+/g, ' '))`)
	require.Contains(t, steps, "Wait an hour Delay")
	require.Contains(t, steps, "Condition")
	require.Equal(t, "5", browsertest.Eval[string](br, `document.querySelector('[data-testid=step-row][data-node-id=wait] [data-testid=step-waiting]').textContent`))
	// Every label of every chart is inside its chart, and no interval line
	// crosses a label.
	type clip struct{ Chart, Text string }
	clipped := browsertest.Eval[[]clip](br, `(() => {
		const out = [];
		for (const svg of document.querySelectorAll('svg.chart')) {
			const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
			const lines = Array.from(svg.querySelectorAll('line.whisker')).map((l) => l.getBBox());
			for (const t of svg.querySelectorAll('text')) {
				const b = t.getBBox();
				if (b.x < -0.5 || b.x + b.width > w + 0.5 || b.y < -0.5 || b.y + b.height > h + 0.5) {
					out.push({Chart: svg.dataset.testid || '', Text: t.textContent});
				}
				for (const l of lines) {
					if (l.x < b.x + b.width && l.x + l.width > b.x && l.y >= b.y && l.y <= b.y + b.height) {
						out.push({Chart: svg.dataset.testid || '', Text: 'crossed: ' + t.textContent});
					}
				}
			}
		}
		return out;
	})()`)
	require.Empty(t, clipped)
	funnel := browsertest.Eval[string](br, `document.querySelector('[data-testid=chart-funnel]').textContent`)
	require.Contains(t, funnel, "Condition")
	require.NotContains(t, funnel, "cond\n")
	timeline := browsertest.Eval[string](br, `document.querySelector('[data-testid=chart-timeline]').textContent`)
	require.Contains(t, timeline, "Today")
}

// TestSimulationPathsByTitle: with two profiles the simulator's paths read
// as step titles and exits ("Signed up → … → French speaker? (Yes) → …"),
// statuses in words; while the result is shown the live counters step
// aside, and come back when it is closed.
func TestSimulationPathsByTitle(t *testing.T) {
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
	key := b.APIKey(store.DefaultWorkspaceID, "admin")
	r := b.Call("POST", "/api/v1/journeys", key, uitest.FlowsTestdata(t, "welcome_series.json"))
	require.Equal(t, 201, r.Status, string(r.Body))
	jid := r.JSON(t)["id"].(string)
	r = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", key, nil)
	require.Equal(t, 200, r.Status, string(r.Body)) // the live numbers show for a published journey
	bb.openEditor(jid)
	br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	const startStats = `document.querySelector('[data-testid="node-start"] [data-testid="node-stats"]').textContent.replace(/\u00a0/g, ' ')`
	br.WaitJS(startStats + ` === '0 entered'`)

	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=open-simulate]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sim-dialog]`)))
	br.Do(
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-sample]`), `[
			{"external_id": "zoe", "email": "zoe@example.com", "attributes": {"first_name": "Zoé", "country": "FR"}},
			{"external_id": "sam", "email": "sam@example.com", "attributes": {"first_name": "Sam", "country": "GB"}}]`),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-entry]`), `{"body": {"plan": "team"}}`),
		chromedp.SetValue(chromedp.CSS(`[data-testid=sim-start]`), `2026-06-01T10:00:00Z`),
		chromedp.Click(chromedp.CSS(`[data-testid=sim-run]`)),
	)
	br.WaitJS(`document.getElementById('sim-results').hasAttribute('data-loaded')`)
	paths := browsertest.Eval[[]string](br, `Array.from(document.querySelectorAll('[data-testid=sim-path] td:last-child')).map((e) => e.textContent)`)
	require.Len(t, paths, 2, "Zoé and Sam take different ways")
	joined := strings.Join(paths, "\n")
	require.Contains(t, joined, "Signed up → Welcome email → Wait 2 days → French speaker? (Yes) → Astuces")
	require.Contains(t, joined, "French speaker? (No) → Tips")
	require.NotContains(t, joined, "is_fr")
	require.NotContains(t, joined, ":yes")
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid=sim-path] td:last-child').title`), "start:out", "ids stay in the tooltip")
	opts := browsertest.Eval[string](br, `document.getElementById('sim-profile').textContent`)
	require.NotContains(t, opts, "waiting_event")
	require.NotContains(t, opts, "completed,")

	// The live numbers step aside, and come back.
	const startHidden = `document.querySelector('[data-testid="node-start"] [data-testid="node-stats"]').getAttribute('visibility') === 'hidden'`
	br.WaitJS(startHidden)
	require.True(t, browsertest.Eval[bool](br, `!document.querySelector('[data-testid=stats-sim-note]').hidden`))
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=sim-close]`)))
	br.WaitJS(`!(` + startHidden + `)`)
	require.Equal(t, "0 entered", browsertest.Eval[string](br, startStats))
	require.True(t, browsertest.Eval[bool](br, `document.querySelector('[data-testid=stats-sim-note]').hidden`))
}

// TestProblemsListLabels: the editor's problems list names a field by its
// labels ("Variant 1 › Port name"), not by its JSON path, and clicking
// the problem still goes to the field.
func TestProblemsListLabels(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := `{"format": 1, "name": "Bad split", "nodes": [
		{"id": "start", "kind": "trigger_event", "position": {"x": 40, "y": 80}, "config": {"event": "signup"}},
		{"id": "ab", "kind": "split", "title": "A/B test", "position": {"x": 340, "y": 80}, "config": {"variants": [{"name": "Control", "weight": 50}, {"name": "b", "weight": 50}]}}],
		"edges": [{"from": "start", "to": "ab"}]}`
	r := bb.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(doc))
	require.Equal(t, 201, r.Status, string(r.Body))
	bb.openEditor(r.JSON(t)["id"].(string))
	br := bb.br
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=problems-toggle]`)))
	br.WaitJS(`!!document.querySelector('[data-testid=problem]')`)
	list := browsertest.Eval[string](br, `Array.from(document.querySelectorAll('[data-testid=problem]')).map((e) => e.textContent).join('\n')`)
	require.Contains(t, list, "Variant 1 › Port name: ")
	require.NotContains(t, list, "variants[0]")
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=problem]`)))
	br.WaitJS(`document.activeElement && document.activeElement.closest('#panel') && document.activeElement.value === 'Control'`)
}

// TestCountersSayWhatMoved: after a publish moved waiting runs to v2, the
// live version's strip says runs were moved in with their history, and
// v1's says its moved runs count on the later version.
func TestCountersSayWhatMoved(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleViewer)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.Equal(t, 200, bb.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil).Status)
	bb.ParkRuns(id, 3)
	r = bb.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))
	r = bb.Call("POST", "/api/v1/journeys/"+id+"/publish", key, []byte(`{"plan": {"wait": {"action": "move", "to": "wait2d"}}}`))
	require.Equal(t, 200, r.Status, string(r.Body))

	br := bb.br
	note := `document.querySelector('[data-testid=stats-moved-in]')`
	bb.openEditor(id)
	br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	require.False(t, browsertest.Eval[bool](br, note+`.hidden`))
	require.Contains(t, browsertest.Eval[string](br, note+`.textContent`), "moved here from an earlier version (3 moves)")

	br.Navigate(bb.base + "/journeys/" + id + "/versions/1")
	bb.waitReady()
	br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	require.False(t, browsertest.Eval[bool](br, note+`.hidden`))
	require.Contains(t, browsertest.Eval[string](br, note+`.textContent`), "moved on from v1 count on the version they were moved to")
	require.Equal(t, "0", browsertest.Eval[string](br, `document.querySelector('[data-testid="stat-entries"]').textContent`), "v1 lost its moved runs")
}

// TestMigrationPlannerByTitle: the publish review's planner names steps
// by title, and choosing where waiting runs go updates the totals at once
// (no "Check the plan" click), by keyboard as a person would.
func TestMigrationPlannerByTitle(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	key := bb.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := bb.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.Equal(t, 200, bb.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil).Status)
	bb.ParkRuns(id, 3)
	r = bb.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))

	br := bb.br
	bb.openEditor(id)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish]`)))
	br.WaitJS(`document.getElementById('publish-dialog').dataset.ready === 'true'`)
	br.WaitJS(`!!document.querySelector('[data-testid=migration-row][data-node-id=wait]')`)
	row := browsertest.Eval[string](br, `document.querySelector('[data-testid=migration-row][data-node-id=wait] td').textContent.replace(/\s+/g, ' ').trim()`)
	require.Equal(t, "Wait a day Delay deleted", row)
	opts := browsertest.Eval[[]string](br, `Array.from(document.querySelectorAll('[data-testid=plan-wait] option')).map((o) => o.textContent)`)
	require.Contains(t, opts, "Move to Wait two days (Delay)")
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid=plan-problems]').textContent`), "Wait a day:")
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid=plan-totals]').textContent`), "0 move")

	// Typing "M" on the focused list picks "Move to Wait two days".
	br.Do(chromedp.Focus(chromedp.CSS(`[data-testid=plan-wait]`)), chromedp.KeyEvent("M"))
	br.WaitJS(`/3 move/.test(document.querySelector('[data-testid=plan-totals]').textContent)`)
	require.True(t, browsertest.Eval[bool](br, `!!document.querySelector('[data-testid=plan-ok]')`), "the choice was checked")
	require.Equal(t, "move:wait2d", browsertest.Eval[string](br, `document.querySelector('[data-testid=plan-wait]').value`))
	// Publish once the check has settled (htmx done swapping).
	br.WaitJS(`!document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')`)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=publish-confirm]`)))
	br.WaitJS(`document.querySelector('[data-testid=publish-migrated]')`)
	require.Contains(t, browsertest.Run(br, chromedp.Text(chromedp.CSS(`[data-testid=publish-migrated]`))), "3 waiting run(s) moved")
}
