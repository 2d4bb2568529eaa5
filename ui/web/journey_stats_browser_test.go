package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

const canvasStatsJourney = `{"format": 1, "name": "Counted", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "position": {"x": 40, "y": 80}, "config": {"event": "signed_up"}},
	{"id": "cond", "kind": "condition", "position": {"x": 320, "y": 80}, "config": {"expr": "event.properties.group == \"x\""}},
	{"id": "hello", "kind": "send_email", "position": {"x": 600, "y": 20}, "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "wait", "kind": "delay", "position": {"x": 600, "y": 220}, "config": {"duration": "1h"}},
	{"id": "done", "kind": "exit", "position": {"x": 880, "y": 120}}],
	"edges": [{"from": "start", "to": "cond"}, {"from": "cond", "port": "yes", "to": "hello"}, {"from": "cond", "port": "no", "to": "wait"},
	{"from": "hello", "port": "out", "to": "done"}, {"from": "wait", "to": "done"}]}`

func TestEditorShowsCounters(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleViewer)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(canvasStatsJourney))
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

	bb.openEditor(jid)
	bb.br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	nodeText := func(id string) string {
		return browsertest.Eval[string](bb.br, fmt.Sprintf(`(document.querySelector('[data-testid="node-%s"] [data-testid="node-stats"]') || {textContent: ''}).textContent.replace(/\u00a0/g, ' ')`, id))
	}
	// X6 renders attribute changes asynchronously: the numbers can reach
	// the DOM a few frames after data-loaded is set. settle polls briefly
	// until got() shows want, then the caller compares (a wrong number
	// still fails, showing what the page shows).
	settle := func(want string, got func() string) string {
		for i := 0; i < 50; i++ {
			if v := got(); v == want {
				return v
			}
			time.Sleep(100 * time.Millisecond)
		}
		return got()
	}
	require.Equal(t, "5 entered", settle("5 entered", func() string { return nodeText("start") }))
	require.Equal(t, "2 entered", settle("2 entered", func() string { return nodeText("hello") }))
	require.Equal(t, "3 entered · 3 waiting", settle("3 entered · 3 waiting", func() string { return nodeText("wait") }))
	require.Equal(t, "2 entered", settle("2 entered", func() string { return nodeText("done") }))
	ports := browsertest.Eval[[]string](bb.br, `Array.from(document.querySelectorAll('[data-testid="node-cond"] .x6-port-label')).map((e) => e.textContent.replace(/\u00a0/g, ' '))`)
	require.ElementsMatch(t, []string{"Yes · 40%", "No · 60%"}, ports)
	stat := func(name string) string {
		return browsertest.Eval[string](bb.br, fmt.Sprintf(`document.querySelector('[data-testid="stat-%s"]').textContent`, name))
	}
	require.Equal(t, "5", stat("entries"))
	require.Equal(t, "3", stat("active"))
	require.Equal(t, "2", stat("completed"))
	require.Equal(t, "0%", stat("conversion-rate"))

	// New entries show after a refresh.
	enter(5, 7)
	loaded := browsertest.Eval[string](bb.br, `document.getElementById('journey-stats').getAttribute('data-loaded')`)
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=stats-refresh]`)))
	bb.br.WaitJS(fmt.Sprintf(`document.getElementById('journey-stats').getAttribute('data-loaded') !== %q`, loaded))
	require.Equal(t, "7", stat("entries"))
	require.Equal(t, "5 entered · 5 waiting", settle("5 entered · 5 waiting", func() string { return nodeText("wait") }))
	ports = browsertest.Eval[[]string](bb.br, `Array.from(document.querySelectorAll('[data-testid="node-cond"] .x6-port-label')).map((e) => e.textContent.replace(/\u00a0/g, ' '))`)
	require.ElementsMatch(t, []string{"Yes · 29%", "No · 71%"}, ports)
}
