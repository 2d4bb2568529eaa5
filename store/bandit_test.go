package store_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

func TestSplitAssignmentsAreStickyAndDense(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newAnalyticsFixture(t, b, 12, 0)
		jid := f.journey.ID
		decide := func(i int64) (string, map[string]any) {
			v := "a"
			if i%2 == 1 {
				v = "b"
			}
			return v, map[string]any{"index": i}
		}
		// Runs race for their assignments, each one twice at once.
		var wg sync.WaitGroup
		got := make([][2]store.SplitAssignment, len(f.runs))
		errs := make(chan error, 2*len(f.runs))
		for i, r := range f.runs {
			for k := 0; k < 2; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, _, err := b.store.AssignSplit(b.ctx, jid, "ab", r.ID, decide)
					errs <- err
					got[i][k] = a
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		seen := map[int64]bool{}
		for i := range got {
			require.Equal(t, got[i][0].EntryIndex, got[i][1].EntryIndex, "one assignment per run")
			require.Equal(t, got[i][0].Variant, got[i][1].Variant)
			seen[got[i][0].EntryIndex] = true
		}
		for i := int64(0); i < 12; i++ {
			require.True(t, seen[i], "index %d assigned: indexes are dense", i)
		}

		// A retry returns the stored assignment and does not call decide.
		a, created, err := b.store.AssignSplit(b.ctx, jid, "ab", f.runs[0].ID, func(int64) (string, map[string]any) {
			panic("re-drawn")
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, got[0][0].Variant, a.Variant)
		require.Equal(t, float64(a.EntryIndex), a.Detail["index"])

		// Another node counts from 0.
		c, created, err := b.store.AssignSplit(b.ctx, jid, "other", f.runs[0].ID, decide)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, int64(0), c.EntryIndex)

		_, err = b.store.GetSplitAssignment(b.ctx, f.runs[0].ID, "nope")
		require.True(t, errors.Is(err, store.ErrNotFound))

		// Counts join the runs' conversions.
		for _, r := range f.runs[:3] {
			ok, err := b.store.RecordConversion(b.ctx, r.ID, store.Conversion{At: b.clock.Now()})
			require.NoError(t, err)
			require.True(t, ok)
		}
		want := map[string]int64{}
		for _, r := range f.runs[:3] {
			a, err := b.store.GetSplitAssignment(b.ctx, r.ID, "ab")
			require.NoError(t, err)
			want[a.Variant]++
		}
		counts, err := b.store.SplitCounts(b.ctx, jid, "ab")
		require.NoError(t, err)
		require.Len(t, counts, 2)
		for _, c := range counts {
			require.Equal(t, int64(6), c.Runs, c.Variant)
			require.Equal(t, want[c.Variant], c.Conversions, c.Variant)
		}
	})
}

func TestSplitFreezes(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newAnalyticsFixture(t, b, 0, 0)
		jid := f.journey.ID
		list, err := b.store.SplitFreezes(b.ctx, jid)
		require.NoError(t, err)
		require.Empty(t, list)

		fr, err := b.store.FreezeSplit(b.ctx, store.SplitFreeze{JourneyID: jid, NodeID: "ab", Variant: "a", FrozenBy: "u1"})
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), fr.FrozenAt)
		_, err = b.store.FreezeSplit(b.ctx, store.SplitFreeze{JourneyID: jid, NodeID: "ab", Variant: "b", FrozenBy: "u2"})
		require.NoError(t, err)
		list, err = b.store.SplitFreezes(b.ctx, jid)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "b", list[0].Variant, "re-freezing replaces")
		require.Equal(t, "u2", list[0].FrozenBy)

		ok, err := b.store.UnfreezeSplit(b.ctx, jid, "ab")
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = b.store.UnfreezeSplit(b.ctx, jid, "ab")
		require.NoError(t, err)
		require.False(t, ok)
	})
}
