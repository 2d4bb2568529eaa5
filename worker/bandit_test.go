package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const banditNodes = `{"id": "ab", "kind": "split", "config": {"strategy": "bandit", "min_share": 10, "holdout": 10,
	"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}},
	{"id": "end_a", "kind": "exit"}, {"id": "end_b", "kind": "exit"}`

const banditEdges = `{"from": "start", "to": "ab"}, {"from": "ab", "port": "a", "to": "end_a"}, {"from": "ab", "port": "b", "to": "end_b"}`

// splitStep is the run's ledger step at the split node.
func (h *harness) splitStep(runID string) store.RunStep {
	h.t.Helper()
	steps, err := h.st.ListRunSteps(h.ctx, runID)
	require.NoError(h.t, err)
	for _, s := range steps {
		if s.NodeID == "ab" {
			return s
		}
	}
	h.t.Fatalf("run %s has no split step", runID)
	return store.RunStep{}
}

func shareOf(t *testing.T, detail map[string]any, arm string) float64 {
	t.Helper()
	arms, ok := detail["allocation"].([]any)
	require.True(t, ok, "allocation recorded: %v", detail)
	for _, a := range arms {
		m := a.(map[string]any)
		if m["name"] == arm {
			for _, k := range []string{"mean", "low", "high", "prob_best", "trials", "conversions"} {
				require.Contains(t, m, k)
			}
			return m["share"].(float64)
		}
	}
	t.Fatalf("no arm %s in %v", arm, arms)
	return 0
}

func TestBanditSplitWiring(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Bandit", "", banditNodes, banditEdges))

	// 40 entries: exactly 4 held out, the others split from an even start.
	ports := map[string]int{}
	var runs []store.Run
	for i := 0; i < 40; i++ {
		r := h.enter(jid, h.profile(fmt.Sprint("p", i), nil), worker.EntryEvent{})
		h.drain()
		st := h.splitStep(r.ID)
		ports[st.Port]++
		require.Equal(t, st.Port, st.Detail["variant"])
		require.Equal(t, "bandit", st.Detail["strategy"])
		if st.Port != "holdout" {
			share := shareOf(t, st.Detail, "a")
			if i == 0 {
				require.InDelta(t, 0.5, share, 0.03, "no evidence yet: even")
			}
			require.True(t, share >= 0.1 && share <= 0.9, "within the minimum shares: %v", share)
		}
		runs = append(runs, r)
	}
	require.Equal(t, 4, ports["holdout"], "holdout exact: %v", ports)
	require.Equal(t, 36, ports["a"]+ports["b"])

	// Every run on b converts, none on a: the allocation moves to b.
	for _, r := range runs {
		if h.splitStep(r.ID).Port == "b" {
			_, err := h.st.RecordConversion(h.ctx, r.ID, store.Conversion{At: h.clock.Now()})
			require.NoError(t, err)
		}
	}
	r := h.enter(jid, h.profile("late", nil), worker.EntryEvent{})
	h.drain()
	d := h.splitStep(r.ID).Detail
	require.InDelta(t, 0.9, shareOf(t, d, "b"), 0.001, "b takes all but a's minimum share: %v", d)
	require.InDelta(t, 0.1, shareOf(t, d, "a"), 0.001)

	// A retried step does not re-draw: an assignment made by an earlier
	// attempt (that did not commit) is what the ledger records.
	r2 := h.enter(jid, h.profile("retried", nil), worker.EntryEvent{})
	_, _, err := h.st.AssignSplit(h.ctx, jid, "ab", r2.ID, func(i int64) (string, map[string]any) {
		return "a", map[string]any{"variant": "a", "earlier_attempt": true}
	})
	require.NoError(t, err)
	h.drain()
	st := h.splitStep(r2.ID)
	require.Equal(t, "a", st.Port)
	require.Equal(t, true, st.Detail["earlier_attempt"])
	require.Equal(t, []string{"start:out:entered", "ab:a", "end_a::completed"}, h.path(r2.ID))

	// Frozen on a: every non-holdout entry goes to a, whatever the evidence.
	_, err = h.st.FreezeSplit(h.ctx, store.SplitFreeze{JourneyID: jid, NodeID: "ab", Variant: "a", FrozenBy: "test"})
	require.NoError(t, err)
	h.eng = worker.NewEngine(h.cfg) // a fresh worker: no cached allocation
	frozen := map[string]int{}
	for i := 0; i < 20; i++ {
		r := h.enter(jid, h.profile(fmt.Sprint("f", i), nil), worker.EntryEvent{})
		h.drain()
		st := h.splitStep(r.ID)
		frozen[st.Port]++
		if st.Port == "a" {
			require.Equal(t, "a", st.Detail["frozen"])
			require.Equal(t, 1.0, shareOf(t, st.Detail, "a"))
		}
	}
	require.Zero(t, frozen["b"], "frozen winner honoured: %v", frozen)
	require.Equal(t, 2, frozen["holdout"], "the holdout stays: entries 42..61 hold 2")
}

// TestBanditCacheOnVirtualClock: a worker's Learning reuses a split's
// counts and freeze for AllocationTTL, so a freeze takes effect within it.
func TestBanditCacheOnVirtualClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.cfg.Learning = worker.NewLearning(h.st, worker.LearningConfig{Now: h.clock.Now, AllocationTTL: 5 * time.Second})
	h.eng = worker.NewEngine(h.cfg)
	jid := h.publish(journey("Cached", "", banditNodes, banditEdges))
	first := h.enter(jid, h.profile("c0", nil), worker.EntryEvent{})
	h.drain()
	require.NotContains(t, h.splitStep(first.ID).Detail, "frozen")

	_, err := h.st.FreezeSplit(h.ctx, store.SplitFreeze{JourneyID: jid, NodeID: "ab", Variant: "b"})
	require.NoError(t, err)
	second := h.enter(jid, h.profile("c1", nil), worker.EntryEvent{})
	h.drain()
	require.NotContains(t, h.splitStep(second.ID).Detail, "frozen", "within the TTL the cached state decides")

	h.clock.Add(5 * time.Second)
	third := h.enter(jid, h.profile("c2", nil), worker.EntryEvent{})
	h.drain()
	st := h.splitStep(third.ID)
	require.Equal(t, "b", st.Port)
	require.Equal(t, "b", st.Detail["frozen"], "after the TTL the freeze applies")
}
