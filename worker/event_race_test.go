package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// raceStore lets the timeout task win while an event is being matched.
type raceStore struct {
	*store.Store
	h    *harness
	done bool
}

func (r *raceStore) AdvanceRun(ctx context.Context, u store.RunUpdate) error {
	if !r.done && len(u.Ledger) == 1 && u.Ledger[0].Outcome == worker.OutcomeMatched {
		r.done = true
		r.h.drain() // the timeout task commits first
	}
	return r.Store.AdvanceRun(ctx, u)
}

// An event that loses its race re-reads the run once (a migration may
// have moved it to another wait for the same event); it must not then
// satisfy a wait for a different event: here the timeout moves the run on
// to a wait for "shipped" while a "paid" event is being matched.
func TestEventRetryOnlyMatchesItsOwnWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Two waits", "", `{"id": "w1", "kind": "wait_event", "config": {"event": "paid", "timeout": "1h"}},
		{"id": "y1", "kind": "exit", "config": {"reason": "paid"}},
		{"id": "w2", "kind": "wait_event", "config": {"event": "shipped", "timeout": "24h"}},
		{"id": "y2", "kind": "exit", "config": {"reason": "shipped"}}, {"id": "n2", "kind": "exit", "config": {"reason": "not shipped"}}`,
		`{"from": "start", "to": "w1"}, {"from": "w1", "port": "matched", "to": "y1"}, {"from": "w1", "port": "timeout", "to": "w2"},
		{"from": "w2", "port": "matched", "to": "y2"}, {"from": "w2", "port": "timeout", "to": "n2"}`))
	p := h.profile("p1", nil)
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, store.RunWaitingEvent, h.run(r.ID).Status)
	h.clock.Add(time.Hour)
	ev, err := h.st.InsertEvent(h.ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: "paid", OccurredAt: h.clock.Now()})
	require.NoError(t, err)
	cfg := h.cfg
	cfg.Store = &raceStore{Store: h.st, h: h}
	eng := worker.NewEngine(cfg)
	res, err := eng.HandleEvent(h.ctx, ev)
	require.NoError(t, err)
	h.drain()
	require.Empty(t, res.Resumed)
	require.NotContains(t, h.path(r.ID), "w2:matched:matched", "a 'paid' event must not satisfy a wait for 'shipped'")
}
