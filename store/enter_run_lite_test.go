package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
)

// On SQLite an entry without a total entry limit goes to the group commit
// (one transaction with other callers' writes), and its run, state and
// outbox item are written as on the other paths; a refusal says why. With
// a total limit it keeps its own transaction.
func TestEnterRunOnSQLiteGroupCommit(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		if b.store.Dialect() != store.DialectSQLite {
			return
		}
		f := newRunFixture(t, b, "lite")
		before := b.store.LiteBatches()
		r, err := b.store.EnterRun(b.ctx, store.Run{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, ProfileID: f.profile.ID,
			CurrentNode: "start", EntryEvent: []byte(`{"name":"signup"}`), State: map[string]any{"k": "v"}}, store.EntryPolicy{Reentry: "never"},
			store.OutboxItem{TaskType: "run:advance", ProcessAt: b.clock.Now()})
		require.NoError(t, err)
		require.Greater(t, b.store.LiteBatches(), before, "through the group commit")
		got := mustRun(t, b, r.ID)
		require.Equal(t, store.RunActive, got.Status)
		require.Equal(t, "start", got.CurrentNode)
		require.Equal(t, map[string]any{"k": "v"}, got.State)
		require.JSONEq(t, `{"name":"signup"}`, string(got.EntryEvent))
		items, err := b.store.ListOutbox(b.ctx, b.clock.Now(), 10)
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, r.ID, items[0].RunID)
		require.Equal(t, "default", items[0].Queue)

		_, err = f.enter(b, store.EntryPolicy{Reentry: "never"})
		var refused *store.EntryRefusedError
		require.ErrorAs(t, err, &refused)

		g := newRunFixture(t, b, "lite-total")
		before = b.store.LiteBatches()
		_, err = g.enter(b, store.EntryPolicy{Reentry: "always", TotalLimit: 5})
		require.NoError(t, err)
		require.Equal(t, before, b.store.LiteBatches(), "a total limit keeps its own transaction")
	})
}
