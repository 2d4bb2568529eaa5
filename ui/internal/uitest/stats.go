package uitest

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

type Vclock struct {
	Mu sync.Mutex
	T  time.Time
}

func (c *Vclock) Now() time.Time { c.Mu.Lock(); defer c.Mu.Unlock(); return c.T }

func (c *Vclock) Add(d time.Duration) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	c.T = c.T.Add(d)
}

// drainDue runs recorded tasks on eng, holding back the wake-ups of runs
// whose wait is not over on clk (they would only re-park).
func (b *Bundle) DrainDue(eng *worker.Engine, clk *Vclock) {
	b.T.Helper()
	for round := 0; round < 1000; round++ {
		b.Tasks.Mu.Lock()
		ts := b.Tasks.Tasks
		b.Tasks.Tasks = nil
		b.Tasks.Mu.Unlock()
		ran := 0
		var keep = ts[:0]
		for _, t := range ts {
			var p struct {
				RunID string `json:"run_id"`
			}
			require.NoError(b.T, json.Unmarshal(t.Payload(), &p))
			run, err := b.Store.GetRun(b.Ctx, p.RunID)
			require.NoError(b.T, err)
			if (run.Status == store.RunWaiting || run.Status == store.RunWaitingEvent) && run.WaitUntil != nil && run.WaitUntil.After(clk.Now()) {
				keep = append(keep, t)
				continue
			}
			ran++
			_ = eng.ProcessTask(b.Ctx, t)
		}
		b.Tasks.Mu.Lock()
		b.Tasks.Tasks = append(keep, b.Tasks.Tasks...)
		b.Tasks.Mu.Unlock()
		if ran == 0 {
			return
		}
	}
	b.T.Fatal("tasks never settled")
}

type NodeStats struct {
	NodeID    string           `json:"node_id"`
	Entered   int64            `json:"entered"`
	Completed int64            `json:"completed"`
	Waiting   int64            `json:"waiting"`
	Failed    int64            `json:"failed"`
	Exited    int64            `json:"exited"`
	Skipped   int64            `json:"skipped"`
	Ports     map[string]int64 `json:"ports"`
}

type StatsResp struct {
	Version int         `json:"version"`
	Nodes   []NodeStats `json:"nodes"`
	Journey struct {
		Entries, Active, Completed, Exited, Failed, Converted int64
		ConversionRate                                        float64 `json:"conversion_rate"`
	} `json:"journey"`
}

// checkReconciles asserts, for every node, entered = completed + waiting +
// failed + exited, and that what entered a node is what its predecessors
// sent along their edges (runs start at the trigger); and that the journey
// totals match the runs table.
func (b *Bundle) CheckReconciles(key, jid string, edges [][3]string) StatsResp {
	b.T.Helper()
	res := b.Call("GET", "/api/v1/journeys/"+jid+"/stats", key, nil)
	require.Equal(b.T, 200, res.Status, string(res.Body))
	var st StatsResp
	require.NoError(b.T, json.Unmarshal(res.Body, &st))
	by := map[string]NodeStats{}
	var sum struct{ waiting, failed, exited int64 }
	for _, n := range st.Nodes {
		require.Equal(b.T, n.Entered, n.Completed+n.Waiting+n.Failed+n.Exited, "node %s: %+v", n.NodeID, n)
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
		require.Equal(b.T, arrivals[n.NodeID], n.Entered, "node %s: what entered it is what was sent to it", n.NodeID)
	}
	for status, want := range map[string]int64{"": st.Journey.Entries, store.RunCompleted: st.Journey.Completed,
		store.RunExited: st.Journey.Exited, store.RunFailed: st.Journey.Failed} {
		n, err := b.Store.CountRuns(b.Ctx, jid, status)
		require.NoError(b.T, err)
		require.Equal(b.T, n, want, "runs in status %q", status)
	}
	require.Equal(b.T, st.Journey.Entries, st.Journey.Active+st.Journey.Completed+st.Journey.Exited+st.Journey.Failed)
	require.Equal(b.T, st.Journey.Active, sum.waiting)
	require.Equal(b.T, st.Journey.Failed, sum.failed)
	require.Equal(b.T, st.Journey.Completed+st.Journey.Exited, sum.exited)
	return st
}
