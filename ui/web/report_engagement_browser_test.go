package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/browsertest"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

const engagementJourney = `{"format": 1, "name": "Welcome", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "position": {"x": 40, "y": 80}, "config": {"event": "signed_up"}},
	{"id": "mail", "kind": "send_email", "title": "Welcome mail", "position": {"x": 320, "y": 80},
		"config": {"connector": "sandbox", "subject": "Hi", "body": "<p><a href=\"https://shop.example/\">Shop</a></p>"}}],
	"edges": [{"from": "start", "to": "mail"}]}`

// TestReportShowsEngagement: a person reading the canvas sees the email
// step's opens and clicks under it, follows the strip's Report link and
// finds the step's sent, opened and clicked numbers in the report's
// message engagement table; a machine's open is not an open.
func TestReportShowsEngagement(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleViewer)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(engagementJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})
	var evs []string
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		evs = append(evs, `{"name": "signed_up", "profile_id": "`+id+`", "profile": {"external_id": "`+id+`", "email": "`+id+`@example.com"}}`)
	}
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.DrainDue(eng, clk)

	// Hits as the tracking routes record them (their HTTP path is
	// ui/ingest's TestTrackingThroughSMTP): two people open, one of them
	// clicks twice, and a privacy proxy fetches the third's pixel.
	ds, _, err := b.Store.ListDeliveries(b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 4)
	hit := func(d store.Delivery, click, human bool) {
		_, err := b.Store.RecordEngagement(b.Ctx, store.EngagementHit{WorkspaceID: d.WorkspaceID, DeliveryID: d.ID, JourneyID: jid, NodeID: "mail",
			Click: click, Human: human, At: time.Now()})
		require.NoError(t, err)
	}
	hit(ds[0], false, true)
	hit(ds[1], false, true)
	hit(ds[1], true, true)
	hit(ds[1], true, true)
	hit(ds[2], false, false)

	br := bb.br
	bb.openEditor(jid)
	br.WaitJS(`document.getElementById('journey-stats').hasAttribute('data-loaded')`)
	const statsEl = `document.querySelector('[data-testid="node-mail"] [data-testid="node-stats"]')`
	br.WaitJS(`(` + statsEl + ` || {textContent: ''}).textContent.includes('opened')`)
	require.Equal(t, "4 entered · 2 opened · 1 clicked", browsertest.Eval[string](br, statsEl+`.textContent.replace(/\u00a0/g, ' ')`))

	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=stats-report]`)))
	br.WaitJS(`!!document.querySelector('[data-testid=messages-table]')`)
	cell := func(testid string) string {
		return browsertest.Eval[string](br, `document.querySelector('[data-testid=message-row][data-node-id=mail] [data-testid=`+testid+`]').textContent.trim().replace(/\s+/g, ' ')`)
	}
	require.Contains(t, browsertest.Eval[string](br, `document.querySelector('[data-testid=message-row][data-node-id=mail] th').textContent`), "Welcome mail")
	require.Equal(t, "4", cell("message-sent"))
	require.Equal(t, "4", cell("message-delivered"))
	require.Equal(t, "2 50.0%", cell("message-opened"))
	require.Equal(t, "1 25.0%", cell("message-clicked"))
	require.Equal(t, "1", cell("message-machine-opened"))
}

// TestTrackingSetting: an editor turns email tracking off in the
// journey's settings; the draft says "tracking": false, and the form shows
// it when opened again.
func TestTrackingSetting(t *testing.T) {
	t.Parallel()
	bb := setupBrowser(t, store.RoleEditor)
	b := bb.Bundle
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(engagementJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	br := bb.br
	bb.openEditor(jid)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=open-settings]`)))
	br.WaitJS(`document.querySelector('#settings-form[data-ready]')`)
	require.Equal(t, "on", browsertest.Eval[string](br, `document.querySelector('#settings-form [name="s.tracking"]').value`))
	bb.choose("s.tracking", "off")
	bb.waitSaved()
	j, err := b.Store.GetJourney(b.Ctx, store.DefaultWorkspaceID, jid)
	require.NoError(t, err)
	saved, err := flows.Parse(j.Draft)
	require.NoError(t, err)
	require.NotNil(t, saved.Settings.Tracking)
	require.False(t, *saved.Settings.Tracking)

	bb.openEditor(jid)
	br.Do(chromedp.Click(chromedp.CSS(`[data-testid=open-settings]`)))
	br.WaitJS(`document.querySelector('#settings-form[data-ready]')`)
	require.Equal(t, "off", browsertest.Eval[string](br, `document.querySelector('#settings-form [name="s.tracking"]').value`))
}
