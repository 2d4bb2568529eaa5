package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// statsJourney: a 50/50 split; variant a branches on a condition (yes:
// a message, then the exit; no: an hour's delay, then a message through a
// connector the engine cannot reach, whose unconnected "failed" port fails
// the run there); variant b waits a day, then exits.
const statsJourney = `{"format": 1, "name": "Stats", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "split", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
	{"id": "cond", "kind": "condition", "config": {"expr": "event.properties.group == \"x\""}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "wait", "kind": "delay", "config": {"duration": "1h"}},
	{"id": "late", "kind": "send_email", "config": {"connector": "flaky", "subject": "Late", "body": "<p>Late</p>"}},
	{"id": "pause", "kind": "delay", "config": {"duration": "1d"}},
	{"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "split"}, {"from": "split", "port": "a", "to": "cond"}, {"from": "split", "port": "b", "to": "pause"},
	{"from": "cond", "port": "yes", "to": "hello"}, {"from": "cond", "port": "no", "to": "wait"}, {"from": "wait", "to": "late"},
	{"from": "hello", "port": "out", "to": "done"}, {"from": "late", "port": "out", "to": "done"}, {"from": "pause", "to": "done"}]}`

func TestJourneyStatsReconcile(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	reader := b.APIKey(store.DefaultWorkspaceID, "journeys:read")
	ev := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // its events carry "profile"
	_, err := b.Store.CreateConnector(b.Ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(statsJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)

	// Before publishing: the draft's nodes, all zero.
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats", reader, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Contains(t, string(res.Body), `"node_id":"late"`)
	require.Contains(t, string(res.Body), `"entries":0`)

	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))

	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &uitest.Vclock{T: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: b.Tasks, Now: clk.Now,
		After: func(time.Duration, func()) {}})

	const entries = 300
	for batch := 0; batch < entries/50; batch++ {
		var evs []string
		for i := batch * 50; i < (batch+1)*50; i++ {
			group := "y"
			if i%3 == 0 {
				group = "x"
			}
			evs = append(evs, fmt.Sprintf(`{"name": "signed_up", "profile_id": "p%[1]d", "properties": {"group": %[2]q},
				"profile": {"external_id": "p%[1]d", "email": "p%[1]d@example.com"}}`, i, group))
		}
		res = b.Call("POST", "/api/v1/events", ev, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
		require.Equal(t, 202, res.Status, string(res.Body))
	}
	edges := [][3]string{{"start", "out", "split"}, {"split", "a", "cond"}, {"split", "b", "pause"}, {"cond", "yes", "hello"},
		{"cond", "no", "wait"}, {"wait", "out", "late"}, {"hello", "out", "done"}, {"late", "out", "done"}, {"pause", "out", "done"}}

	b.DrainDue(eng, clk)
	st := b.CheckReconciles(reader, jid, edges)
	by := func(st uitest.StatsResp) map[string]uitest.NodeStats {
		m := map[string]uitest.NodeStats{}
		for _, n := range st.Nodes {
			m[n.NodeID] = n
		}
		return m
	}
	n := by(st)
	require.Equal(t, int64(entries), st.Journey.Entries)
	require.Equal(t, 1, st.Version)
	require.Equal(t, int64(entries), n["split"].Entered)
	a, bb := n["split"].Ports["a"], n["split"].Ports["b"]
	require.Equal(t, int64(entries), a+bb)
	require.InDelta(t, entries/2, a, entries/5, "a 50/50 split")
	require.Equal(t, bb, n["pause"].Waiting)
	require.Equal(t, n["cond"].Ports["yes"], n["hello"].Ports["out"])
	require.Equal(t, n["cond"].Ports["yes"], n["done"].Exited)
	require.Equal(t, n["cond"].Ports["no"], n["wait"].Waiting)
	require.Positive(t, n["cond"].Ports["yes"])
	require.Positive(t, n["cond"].Ports["no"])
	require.Zero(t, n["late"].Entered)

	// An hour later variant a's delay is over: "late" fails.
	clk.Add(61 * time.Minute)
	b.Tasks.Mu.Lock()
	pending := len(b.Tasks.Tasks)
	b.Tasks.Mu.Unlock()
	require.Positive(t, pending)
	b.DrainDue(eng, clk)
	st = b.CheckReconciles(reader, jid, edges)
	n = by(st)
	require.Equal(t, n["cond"].Ports["no"], n["late"].Failed)
	require.Equal(t, n["late"].Failed, n["late"].Ports["failed"])
	require.Equal(t, n["late"].Failed, st.Journey.Failed)
	require.Zero(t, n["wait"].Waiting)

	// A day later everyone is done.
	clk.Add(24 * time.Hour)
	b.DrainDue(eng, clk)
	st = b.CheckReconciles(reader, jid, edges)
	n = by(st)
	require.Zero(t, st.Journey.Active)
	require.Equal(t, bb+n["cond"].Ports["yes"], n["done"].Exited)
	require.Equal(t, bb, n["pause"].Completed)
	require.Equal(t, int64(entries), st.Journey.Completed+st.Journey.Failed)

	// Errors and access.
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats?version=7", reader, nil)
	require.Equal(t, 404, res.Status, string(res.Body))
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats?version=x", reader, nil)
	require.Equal(t, 400, res.Status, string(res.Body))
	res = b.Call("GET", "/api/v1/journeys/nope/stats", reader, nil)
	require.Equal(t, 404, res.Status, string(res.Body))
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats", ev, nil)
	require.Equal(t, 403, res.Status, "events:write does not read reports")
	other := b.APIKey("other-ws", "journeys:read")
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats", other, nil)
	require.Equal(t, 404, res.Status, "another workspace's journey")
}
