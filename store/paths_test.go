package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestJourneyPaths(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		start := b.clock.Now()
		f := newAnalyticsFixture(t, b, 6, time.Minute)
		walk := func(r store.Run, status string, nodes ...string) {
			var steps []store.RunStep
			for i, n := range nodes {
				steps = append(steps, store.RunStep{Sequence: r.Sequence + i, NodeID: n, Kind: "k", Port: "out", Outcome: "ok", StartedAt: b.clock.Now(), FinishedAt: b.clock.Now()})
			}
			u := store.RunUpdate{RunID: r.ID, JourneyID: r.JourneyID, ProfileID: r.ProfileID, ExpectSequence: r.Sequence, Status: status,
				CurrentNode: nodes[len(nodes)-1], Sequence: r.Sequence + len(nodes), Steps: len(nodes), Ledger: steps, Finished: status != store.RunWaiting}
			if status == store.RunWaiting {
				due := b.clock.Now().Add(time.Hour)
				u.WaitUntil, u.NextDueAt = &due, &due
			}
			require.NoError(t, b.store.AdvanceRun(b.ctx, u))
		}
		// Three finished runs took start>a>done (one with a deferral at a:
		// a repeated node is one step), one failed at b, two wait at a.
		walk(f.runs[0], store.RunCompleted, "start", "a", "done")
		walk(f.runs[1], store.RunCompleted, "start", "a", "a", "done")
		walk(f.runs[2], store.RunExited, "start", "a", "done")
		walk(f.runs[3], store.RunFailed, "start", "b")
		walk(f.runs[4], store.RunWaiting, "start", "a")
		walk(f.runs[5], store.RunWaiting, "start", "a")

		paths, truncated, err := b.store.JourneyPaths(b.ctx, b.ws, f.journey.ID, 1, store.Period{From: start, To: b.clock.Now().Add(time.Second)})
		require.NoError(t, err)
		require.False(t, truncated)
		got := map[string]int64{}
		for _, p := range paths {
			key := ""
			for i, n := range p.Nodes {
				if i > 0 {
					key += ">"
				}
				key += n
			}
			if p.Finished {
				key += " (finished)"
			}
			got[key] += p.Count
		}
		require.Equal(t, map[string]int64{"start>a>done (finished)": 3, "start>b (finished)": 1, "start>a": 2}, got)

		// The period and the version filter.
		paths, _, err = b.store.JourneyPaths(b.ctx, b.ws, f.journey.ID, 1, store.Period{From: start.Add(4 * time.Minute), To: b.clock.Now().Add(time.Second)})
		require.NoError(t, err)
		require.Len(t, paths, 1)
		require.Equal(t, int64(2), paths[0].Count, "only the two runs entered from minute 4")
		paths, _, err = b.store.JourneyPaths(b.ctx, b.ws, f.journey.ID, 2, store.Period{From: start, To: b.clock.Now().Add(time.Second)})
		require.NoError(t, err)
		require.Empty(t, paths)
	})
}
