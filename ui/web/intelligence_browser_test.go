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

const canvasBanditJourney = `{"format": 1, "name": "Bandit canvas", "settings": {"reentry": "always", "goal": {"event": "purchase", "window": "7d"}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "position": {"x": 40, "y": 80}, "config": {"event": "signed_up"}},
	{"id": "ab", "kind": "split", "position": {"x": 320, "y": 80}, "config": {"strategy": "bandit", "holdout": 10, "min_share": 10,
		"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}},
	{"id": "done", "kind": "exit", "position": {"x": 600, "y": 80}}],
	"edges": [{"from": "start", "to": "ab"}, {"from": "ab", "port": "a", "to": "done"}, {"from": "ab", "port": "b", "to": "done"}]}`

func TestEditorShowsBanditAndFreezesWinner(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(canvasBanditJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil).Status)

	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	var evs []string
	for i := 0; i < 30; i++ {
		evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "c%d"}`, i))
	}
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.DrainDue(eng, clk)
	// Every run on b converts: b leads.
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 100})
	require.NoError(t, err)
	for _, r := range runs {
		a, err := b.Store.GetSplitAssignment(b.Ctx, r.ID, "ab")
		require.NoError(t, err)
		if a.Variant == "b" {
			_, err := b.Store.RecordConversion(b.Ctx, r.ID, store.Conversion{At: time.Now()})
			require.NoError(t, err)
		}
	}

	bb.openEditor(jid)
	bb.br.WaitJS(`!!document.querySelector('[data-testid="bandit-panel"][data-loaded]')`)
	shares := browsertest.Eval[[]string](bb.br, `Array.from(document.querySelectorAll('[data-testid="bandit-ab"] tbody tr')).map((tr) => tr.getAttribute('data-variant') + '=' + tr.querySelector('[data-testid="bandit-share"]').textContent)`)
	require.Equal(t, []string{"a=10%", "b=90%"}, shares)
	note := browsertest.Eval[string](bb.br, `document.querySelector('[data-testid="bandit-ab"] [data-testid="bandit-note"]').textContent`)
	require.Contains(t, note, "Holdout 10%: 3 runs")
	require.Equal(t, "Freeze winner: b", browsertest.Eval[string](bb.br, `document.querySelector('[data-testid="bandit-freeze"]').textContent`))

	loaded := browsertest.Eval[string](bb.br, `document.querySelector('[data-testid="bandit-panel"]').getAttribute('data-loaded')`)
	require.True(t, browsertest.Eval[bool](bb.br, `(window.confirm = () => true, true)`))
	bb.br.Do(chromedp.Click(chromedp.CSS(`[data-testid=bandit-freeze]`)))
	bb.br.WaitJS(fmt.Sprintf(`document.querySelector('[data-testid="bandit-panel"]').getAttribute('data-loaded') !== %q`, loaded))
	require.Contains(t, browsertest.Eval[string](bb.br, `document.querySelector('[data-testid="bandit-ab"] [data-testid="bandit-note"]').textContent`),
		"Frozen on b by ada@example.com")
	require.True(t, browsertest.Eval[bool](bb.br, `!!document.querySelector('[data-testid="bandit-unfreeze"]')`))
	fr, err := b.Store.SplitFreezes(b.Ctx, jid)
	require.NoError(t, err)
	require.Len(t, fr, 1)
	require.Equal(t, "b", fr[0].Variant)
}
