package worker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Tests of EngineConfig.LocalTasks: an entry's first task runs in process,
// with its outbox item as the safety net while it may be running.

func localHarness(t *testing.T, n int) *harness {
	h := newHarness(t)
	h.cfg.LocalTasks, h.cfg.LocalBuffer = n, 8
	h.eng = worker.NewEngine(h.cfg)
	h.eng.StartLocalTasks()
	return h
}

func TestLocalFirstTask(t *testing.T) {
	t.Parallel()
	h := localHarness(t, 4)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	p := h.profile("l", nil, "email", "l@example.com")
	start := h.clock.Now()
	r := h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": true}})
	require.Zero(t, h.queue.len(), "no task through the queue")
	got := h.run(r.ID)
	require.Equal(t, "mail", got.CurrentNode)
	require.True(t, got.NextDueAt.Equal(start.Add(75*time.Second)), "the reconciler leaves it alone while the local attempt may run")
	items := h.outbox()
	require.Len(t, items, 1, "the safety net")
	require.True(t, items[0].VisibleAt.Equal(start.Add(75*time.Second)), "hidden from the relay for the send lease")
	n, err := worker.NewRelay(h.eng, time.Second).Drain(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	require.Equal(t, 1, h.eng.RunQueuedLocal())
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r.ID))
	require.Len(t, h.inbox.sent(), 1)
	require.Empty(t, h.outbox(), "the safety net goes once the step is committed")
	require.Zero(t, h.queue.len())
	require.Zero(t, h.drain())
}

// A full pool (its workers busy and its buffer, eight tasks here, taken)
// sends the first task through the queue at once.
func TestLocalPoolFull(t *testing.T) {
	t.Parallel()
	h := localHarness(t, 1)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	var runs []store.Run
	for i := range 9 {
		p := h.profile(fmt.Sprintf("f%d", i), nil, "email", fmt.Sprintf("f%d@example.com", i))
		runs = append(runs, h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": true}}))
	}
	require.Equal(t, map[string]time.Time{runTaskID(runs[8].ID, 3): h.clock.Now()}, h.queued(), "the ninth entry's task went through the queue")
	require.Equal(t, 8, h.eng.RunQueuedLocal())
	require.Equal(t, 1, h.drain())
	for _, r := range runs {
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	}
	require.Len(t, h.inbox.sent(), 9)
	require.Empty(t, h.outbox())
}

// A task that waited in the buffer for longer than ten seconds is not run
// late in process: it goes through the queue, due at once, and runs there.
func TestLocalTaskWaitedTooLong(t *testing.T) {
	t.Parallel()
	h := localHarness(t, 2)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	a := h.enter(jid, h.profile("w1", nil, "email", "w1@example.com"), worker.EntryEvent{Properties: map[string]any{"pass": true}})
	h.clock.Add(6 * time.Second)
	b := h.enter(jid, h.profile("w2", nil, "email", "w2@example.com"), worker.EntryEvent{Properties: map[string]any{"pass": true}})
	require.Zero(t, h.queue.len())
	h.clock.Add(4*time.Second + time.Millisecond)
	require.Equal(t, 2, h.eng.RunQueuedLocal())
	require.Equal(t, map[string]time.Time{runTaskID(a.ID, 3): h.clock.Now()}, h.queued(), "the one that waited over 10 s went to the queue")
	require.Equal(t, store.RunCompleted, h.run(b.ID).Status, "the other ran in process")
	require.Equal(t, "mail", h.run(a.ID).CurrentNode)
	require.Equal(t, 1, h.drain())
	require.Equal(t, store.RunCompleted, h.run(a.ID).Status)
	require.Len(t, h.inbox.sent(), 2)
	require.Empty(t, h.outbox())
}

// A local attempt that fails with an error worth retrying gives the step
// its own task at the provider's Retry-After: one retry stream, sent once.
func TestLocalFirstTaskRetries(t *testing.T) {
	t.Parallel()
	h := localHarness(t, 4)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	p := h.profile("r", nil, "email", "r@example.com")
	h.inbox.fail(connectors.TransientError("429 Too Many Requests", 120*time.Second, nil))
	start := h.clock.Now()
	r := h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": true}})
	require.Equal(t, 1, h.eng.RunQueuedLocal())
	require.Equal(t, 1, h.inbox.calls)
	require.Equal(t, map[string]time.Time{runTaskID(r.ID, 3): start.Add(120 * time.Second)}, h.queued())
	require.Empty(t, h.outbox(), "the task is enqueued: no safety net needed")
	require.Zero(t, h.drain())
	h.advance(120 * time.Second)
	require.Equal(t, 2, h.inbox.calls)
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r.ID))
	require.Len(t, h.inbox.sent(), 1)
}

// If the process dies during the local attempt's send, the relay gives the
// step its task once the lease is over, and the task applies the crash
// rules: the outcome is unknown, never re-sent blindly.
func TestLocalFirstTaskCrash(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	p := h.profile("c", nil, "email", "c@example.com")
	// The process that takes the entry dies inside the connector call of
	// the attempt it runs in process.
	cfg := h.cfg
	cfg.Connectors, cfg.LocalTasks = crashing{}, 4
	dying := worker.NewEngine(cfg)
	dying.StartLocalTasks()
	r, err := dying.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID,
		Event: worker.EntryEvent{Properties: map[string]any{"pass": true}}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dying.RunQueuedLocal()
	}()
	wg.Wait()
	require.Len(t, h.deliveries(r.ID), 1)
	require.Equal(t, store.DeliveryPending, h.deliveries(r.ID)[0].Status)
	require.Equal(t, []string{"start:out:entered", "check:yes"}, h.path(r.ID))
	require.Len(t, h.outbox(), 1)
	h.clock.Add(2 * time.Second)
	relay := worker.NewRelay(h.eng, time.Second)
	n, err := relay.Drain(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "not while the dead attempt could still be sending")
	overdue, err := h.st.ListDueRuns(h.ctx, h.clock.Now(), "", 10)
	require.NoError(t, err)
	require.Empty(t, overdue)
	h.clock.Add(75 * time.Second)
	n, err = relay.Drain(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:unknown", "done::completed"}, h.path(r.ID))
	require.Empty(t, h.inbox.sent(), "never re-sent blindly")
	require.Equal(t, store.DeliveryUnknown, h.deliveries(r.ID)[0].Status)
}
