package ui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
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

type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vclock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// drainDue runs recorded tasks on eng, holding back the wake-ups of runs
// whose wait is not over on clk (they would only re-park).
func (b *testBundle) drainDue(eng *worker.Engine, clk *vclock) {
	b.t.Helper()
	for round := 0; round < 1000; round++ {
		b.tasks.mu.Lock()
		ts := b.tasks.tasks
		b.tasks.tasks = nil
		b.tasks.mu.Unlock()
		ran := 0
		var keep = ts[:0]
		for _, t := range ts {
			var p struct {
				RunID string `json:"run_id"`
			}
			require.NoError(b.t, json.Unmarshal(t.Payload(), &p))
			run, err := b.store.GetRun(b.ctx, p.RunID)
			require.NoError(b.t, err)
			if (run.Status == store.RunWaiting || run.Status == store.RunWaitingEvent) && run.WaitUntil != nil && run.WaitUntil.After(clk.Now()) {
				keep = append(keep, t)
				continue
			}
			ran++
			_ = eng.ProcessTask(b.ctx, t)
		}
		b.tasks.mu.Lock()
		b.tasks.tasks = append(keep, b.tasks.tasks...)
		b.tasks.mu.Unlock()
		if ran == 0 {
			return
		}
	}
	b.t.Fatal("tasks never settled")
}

type nodeStats struct {
	NodeID    string           `json:"node_id"`
	Entered   int64            `json:"entered"`
	Completed int64            `json:"completed"`
	Waiting   int64            `json:"waiting"`
	Failed    int64            `json:"failed"`
	Exited    int64            `json:"exited"`
	Skipped   int64            `json:"skipped"`
	Ports     map[string]int64 `json:"ports"`
}

type statsResp struct {
	Version int         `json:"version"`
	Nodes   []nodeStats `json:"nodes"`
	Journey struct {
		Entries, Active, Completed, Exited, Failed, Converted int64
		ConversionRate                                        float64 `json:"conversion_rate"`
	} `json:"journey"`
}

// checkReconciles asserts, for every node, entered = completed + waiting +
// failed + exited, and that what entered a node is what its predecessors
// sent along their edges (runs start at the trigger); and that the journey
// totals match the runs table.
func (b *testBundle) checkReconciles(key, jid string, edges [][3]string) statsResp {
	b.t.Helper()
	res := b.call("GET", "/api/v1/journeys/"+jid+"/stats", key, nil)
	require.Equal(b.t, 200, res.status, string(res.body))
	var st statsResp
	require.NoError(b.t, json.Unmarshal(res.body, &st))
	by := map[string]nodeStats{}
	var sum struct{ waiting, failed, exited int64 }
	for _, n := range st.Nodes {
		require.Equal(b.t, n.Entered, n.Completed+n.Waiting+n.Failed+n.Exited, "node %s: %+v", n.NodeID, n)
		by[n.NodeID] = n
		sum.waiting += n.Waiting
		sum.failed += n.Failed
		sum.exited += n.Exited
	}
	arrivals := map[string]int64{"start": st.Journey.Entries}
	for _, e := range edges {
		arrivals[e[2]] += by[e[0]].Ports[e[1]]
	}
	for _, n := range st.Nodes {
		require.Equal(b.t, arrivals[n.NodeID], n.Entered, "node %s: what entered it is what was sent to it", n.NodeID)
	}
	for status, want := range map[string]int64{"": st.Journey.Entries, store.RunCompleted: st.Journey.Completed,
		store.RunExited: st.Journey.Exited, store.RunFailed: st.Journey.Failed} {
		n, err := b.store.CountRuns(b.ctx, jid, status)
		require.NoError(b.t, err)
		require.Equal(b.t, n, want, "runs in status %q", status)
	}
	require.Equal(b.t, st.Journey.Entries, st.Journey.Active+st.Journey.Completed+st.Journey.Exited+st.Journey.Failed)
	require.Equal(b.t, st.Journey.Active, sum.waiting)
	require.Equal(b.t, st.Journey.Failed, sum.failed)
	require.Equal(b.t, st.Journey.Completed+st.Journey.Exited, sum.exited)
	return st
}

func TestJourneyStatsReconcile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.apiKey(store.DefaultWorkspaceID, "admin")
	reader := b.apiKey(store.DefaultWorkspaceID, "journeys:read")
	ev := b.apiKey(store.DefaultWorkspaceID, "events:write", "profiles:write") // its events carry "profile"
	_, err := b.store.CreateConnector(b.ctx, store.Connector{WorkspaceID: store.DefaultWorkspaceID, Name: "flaky", Type: store.SandboxConnector, Enabled: true})
	require.NoError(t, err)
	res := b.call("POST", "/api/v1/journeys", admin, []byte(statsJourney))
	require.Equal(t, 201, res.status, string(res.body))
	jid := res.json(t)["id"].(string)

	// Before publishing: the draft's nodes, all zero.
	res = b.call("GET", "/api/v1/journeys/"+jid+"/stats", reader, nil)
	require.Equal(t, 200, res.status, string(res.body))
	require.Contains(t, string(res.body), `"node_id":"late"`)
	require.Contains(t, string(res.body), `"entries":0`)

	res = b.call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.status, string(res.body))

	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	clk := &vclock{t: time.Now()}
	eng := worker.NewEngine(worker.EngineConfig{Store: b.store, Registry: reg, Connectors: sandboxOnly{}, Enqueuer: b.tasks, Now: clk.Now,
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
		res = b.call("POST", "/api/v1/events", ev, []byte(`{"events": [`+strings.Join(evs, ",")+`]}`))
		require.Equal(t, 202, res.status, string(res.body))
	}
	edges := [][3]string{{"start", "out", "split"}, {"split", "a", "cond"}, {"split", "b", "pause"}, {"cond", "yes", "hello"},
		{"cond", "no", "wait"}, {"wait", "out", "late"}, {"hello", "out", "done"}, {"late", "out", "done"}, {"pause", "out", "done"}}

	b.drainDue(eng, clk)
	st := b.checkReconciles(reader, jid, edges)
	by := func(st statsResp) map[string]nodeStats {
		m := map[string]nodeStats{}
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
	b.tasks.mu.Lock()
	pending := len(b.tasks.tasks)
	b.tasks.mu.Unlock()
	require.Positive(t, pending)
	b.drainDue(eng, clk)
	st = b.checkReconciles(reader, jid, edges)
	n = by(st)
	require.Equal(t, n["cond"].Ports["no"], n["late"].Failed)
	require.Equal(t, n["late"].Failed, n["late"].Ports["failed"])
	require.Equal(t, n["late"].Failed, st.Journey.Failed)
	require.Zero(t, n["wait"].Waiting)

	// A day later everyone is done.
	clk.Add(24 * time.Hour)
	b.drainDue(eng, clk)
	st = b.checkReconciles(reader, jid, edges)
	n = by(st)
	require.Zero(t, st.Journey.Active)
	require.Equal(t, bb+n["cond"].Ports["yes"], n["done"].Exited)
	require.Equal(t, bb, n["pause"].Completed)
	require.Equal(t, int64(entries), st.Journey.Completed+st.Journey.Failed)

	// Errors and access.
	res = b.call("GET", "/api/v1/journeys/"+jid+"/stats?version=7", reader, nil)
	require.Equal(t, 404, res.status, string(res.body))
	res = b.call("GET", "/api/v1/journeys/"+jid+"/stats?version=x", reader, nil)
	require.Equal(t, 400, res.status, string(res.body))
	res = b.call("GET", "/api/v1/journeys/nope/stats", reader, nil)
	require.Equal(t, 404, res.status, string(res.body))
	res = b.call("GET", "/api/v1/journeys/"+jid+"/stats", ev, nil)
	require.Equal(t, 403, res.status, "events:write does not read reports")
	other := b.apiKey("other-ws", "journeys:read")
	res = b.call("GET", "/api/v1/journeys/"+jid+"/stats", other, nil)
	require.Equal(t, 404, res.status, "another workspace's journey")
}
