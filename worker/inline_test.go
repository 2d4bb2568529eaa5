package worker_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Tests of EngineConfig.InlineActions: the task that walks a run up to an
// action runs the action's step itself once the walk is committed.

// An entry walks a run's instant steps before it commits (walkEntry), so
// a run whose trigger leads straight to an action enters at the action,
// and its first task runs it as that task's first node. The journeys
// below put a condition on a profile attribute first: h.enter gives the
// entry no profile, so the entry stops before it, and the first task
// evaluates it and reaches the action, which it then runs inline.
const lookNode = `{"id": "look", "kind": "condition", "config": {"expr": "profile.email != nil"}}`

// lookThenMail is trigger → look → mail (+ more nodes and edges).
func lookThenMail(name, nodes, edges string) []byte {
	if nodes != "" {
		nodes = ", " + nodes
	}
	if edges != "" {
		edges = ", " + edges
	}
	return journey(name, "", lookNode+", "+mailNode+nodes, `{"from": "start", "to": "look"}, {"from": "look", "port": "yes", "to": "mail"}`+edges)
}

func inlineHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.cfg.InlineActions = true
	h.eng = worker.NewEngine(h.cfg)
	return h
}

func (h *harness) outbox() []store.OutboxItem {
	h.t.Helper()
	items, err := h.st.ListOutbox(h.ctx, h.clock.Now().Add(time.Hour), 100)
	require.NoError(h.t, err)
	return items
}

func TestInlineActionOneTask(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	jid := h.publish(journey("Inline", "", `{"id": "check", "kind": "condition", "config": {"expr": "true"}}, `+mailNode+`, {"id": "done", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}, {"from": "check", "port": "no", "to": "mail"}, {"from": "mail", "to": "done"}`))
	p := h.profile("i", nil, "email", "i@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	require.Equal(t, 1, h.drain(), "the entry task runs the action too")
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r.ID))
	require.Len(t, h.inbox.sent(), 1)
	require.Empty(t, h.outbox(), "the action's outbox item is dropped once its step committed")
	require.Zero(t, h.queue.len())
}

// queued returns the tasks waiting in the queue, by id.
func (h *harness) queued() map[string]time.Time {
	h.queue.mu.Lock()
	defer h.queue.mu.Unlock()
	out := map[string]time.Time{}
	for id, it := range h.queue.tasks {
		out[id] = it.at
	}
	return out
}

func runTaskID(runID string, seq int) string { return fmt.Sprintf("run:%s:%d", runID, seq) }

// A transient failure of an inline step gives the step its own task, due
// when the provider said to retry: one retry stream, which the reconciler
// sees as scheduled (not lost).
func TestInlineActionRetryAfter(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	jid := h.publish(lookThenMail("Bare", "", ""))
	p := h.profile("ra", nil, "email", "ra@example.com")
	h.inbox.fail(connectors.TransientError("429 Too Many Requests", 120*time.Second, nil))
	start := h.clock.Now()
	r := h.enter(jid, p, worker.EntryEvent{})
	require.Equal(t, 1, h.drain(), "the entry's task ends after the failed send")
	require.Equal(t, 1, h.inbox.calls)

	got := h.run(r.ID)
	require.Equal(t, 3, got.Sequence)
	require.Equal(t, map[string]time.Time{runTaskID(r.ID, 3): start.Add(120 * time.Second)}, h.queued(),
		"only the step's own task, at the provider's Retry-After")
	require.NotNil(t, got.NextDueAt)
	require.True(t, got.NextDueAt.Equal(start.Add(120*time.Second)), "next_due_at %s", got.NextDueAt)
	d := h.deliveries(r.ID)
	require.Len(t, d, 1)
	require.Equal(t, store.DeliveryPending, d[0].Status)
	require.Contains(t, d[0].Error, "429")
	require.Empty(t, h.outbox())

	// Past the reconciler's grace, nothing is overdue: nothing to repair,
	// and no second attempt goes out before the provider's time.
	h.advance(90 * time.Second)
	due, err := h.st.ListDueRuns(h.ctx, h.clock.Now().Add(-time.Minute), "", 100)
	require.NoError(t, err)
	require.Empty(t, due, "the reconciler would find nothing to repair")
	require.Equal(t, 1, h.inbox.calls)

	h.advance(30 * time.Second)
	require.Equal(t, 2, h.inbox.calls, "one send per attempt")
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "look:yes", "mail:out:sent"}, h.path(r.ID))
	d = h.deliveries(r.ID)
	require.Equal(t, store.DeliveryDelivered, d[0].Status)
	require.Equal(t, 2, d[0].Attempts)
	require.Zero(t, h.queue.len())
}

// If the hand-off's enqueue is lost, the step's safety net (its outbox
// item) has already moved to the provider's retry time: the relay runs it
// then, not at the end of the send lease, an hour early.
func TestInlineActionRetryAfterSurvivesALostEnqueue(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	jid := h.publish(lookThenMail("Bare", "", ""))
	p := h.profile("lost", nil, "email", "lost@example.com")
	h.inbox.fail(connectors.TransientError("429 Too Many Requests", time.Hour, nil))
	start := h.clock.Now()
	r := h.enter(jid, p, worker.EntryEvent{})
	h.queue.mu.Lock()
	h.queue.refuse = func(id string) bool { return id == runTaskID(r.ID, 3) }
	h.queue.mu.Unlock()
	h.drain()
	require.Equal(t, 1, h.inbox.calls)
	items, err := h.st.ListOutbox(h.ctx, start.Add(2*time.Hour), 100)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, 3, items[0].Sequence)
	require.True(t, items[0].ProcessAt.Equal(start.Add(time.Hour)), "process_at %s", items[0].ProcessAt)
	require.True(t, items[0].VisibleAt.Equal(start.Add(time.Hour)), "visible_at %s: not the lease", items[0].VisibleAt)
	visible, err := h.st.ListOutbox(h.ctx, start.Add(10*time.Minute), 100)
	require.NoError(t, err)
	require.Empty(t, visible, "the relay leaves it alone until the provider's time")
}

func TestInlineActionRetries(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	withFailedPath := h.publish(lookThenMail("With failed path", `{"id": "oops", "kind": "exit", "config": {}}`,
		`{"from": "mail", "port": "failed", "to": "oops"}`))
	bare := h.publish(lookThenMail("Bare", "", ""))
	p := h.profile("f", nil, "email", "f@example.com")

	t.Run("429 then 500 then success: the step's own task retries, sent once", func(t *testing.T) {
		h.inbox.fail(connectors.TransientError("429 Too Many Requests", 30*time.Second, nil), connectors.TransientError("500 from provider", 0, nil))
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain() // 429
		d := h.deliveries(r.ID)
		require.Len(t, d, 1)
		require.Equal(t, store.DeliveryPending, d[0].Status)
		require.Contains(t, d[0].Error, "429")
		require.Equal(t, []string{"start:out:entered", "look:yes"}, h.path(r.ID), "the steps before the action are committed once")
		require.Empty(t, h.outbox())
		h.advance(30 * time.Second) // 500
		h.drain()                   // the retry (at once in the harness): success
		d = h.deliveries(r.ID)
		require.Equal(t, store.DeliveryDelivered, d[0].Status)
		require.Equal(t, 3, d[0].Attempts)
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		require.Equal(t, []string{"start:out:entered", "look:yes", "mail:out:sent"}, h.path(r.ID))
	})
	t.Run("permanent failure takes the failed port", func(t *testing.T) {
		h.inbox.fail(connectors.PermanentError("550 mailbox does not exist", nil))
		r := h.enter(withFailedPath, p, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "look:yes", "mail:failed:failed", "oops::completed"}, h.path(r.ID))
	})
	t.Run("a step that keeps failing fails its run on its own task's last attempt", func(t *testing.T) {
		// The inline attempt, then maxRetry+1 attempts of the step's task.
		errs := make([]error, maxRetry+2)
		for i := range errs {
			errs[i] = connectors.TransientError("503", 0, nil)
		}
		h.inbox.fail(errs...)
		calls := h.inbox.calls
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain()
		for i := 0; i <= maxRetry; i++ {
			h.advance(time.Second)
		}
		require.Equal(t, maxRetry+2, h.inbox.calls-calls)
		got := h.run(r.ID)
		require.Equal(t, store.RunFailed, got.Status)
		require.Equal(t, "mail", got.CurrentNode)
		require.Contains(t, got.Error, "gave up")
		require.Equal(t, store.DeliveryFailed, h.deliveries(r.ID)[0].Status)
	})
}

// slowSend is a connector whose send takes longer than the relay's age on
// the virtual clock; the relay ticks while it runs.
type slowSend struct {
	h       *harness
	took    time.Duration
	relayed []int
}

func (s *slowSend) Resolve(context.Context, string, string) (connectors.Connector, error) {
	return s, nil
}

func (s *slowSend) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	for i := time.Duration(0); i < s.took; i += time.Second {
		s.h.clock.Add(time.Second)
		n, err := worker.NewRelay(s.h.eng, time.Second).Drain(ctx)
		if err != nil {
			return connectors.Result{}, err
		}
		s.relayed = append(s.relayed, n)
	}
	return s.h.inbox.Send(ctx, m)
}

// The safety net of an inline step is not the relay's while the step may
// still be sending: a slow send gets no duplicate task.
func TestInlineActionSlowSend(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	slow := &slowSend{h: h, took: 10 * time.Second}
	h.cfg.Connectors = slow
	h.eng = worker.NewEngine(h.cfg)
	jid := h.publish(lookThenMail("Slow", "", ""))
	p := h.profile("s", nil, "email", "s@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	require.Equal(t, 1, h.drain())
	require.Len(t, slow.relayed, 10)
	for _, n := range slow.relayed {
		require.Zero(t, n, "the relay enqueued a task for a step in flight")
	}
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Len(t, h.inbox.sent(), 1)
	require.Empty(t, h.outbox())
	require.Zero(t, h.queue.len())
}

// crashing is a connector whose Send stops the calling goroutine, as a
// killed worker would: nothing after the call happens.
type crashing struct{}

func (crashing) Resolve(context.Context, string, string) (connectors.Connector, error) {
	return crashing{}, nil
}

func (crashing) Send(context.Context, connectors.Message) (connectors.Result, error) {
	runtime.Goexit()
	return connectors.Result{}, nil
}

func TestInlineActionCrashDuringSend(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	jid := h.publish(lookThenMail("Crash", "", ""))
	p := h.profile("c", nil, "email", "c@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})

	// The worker dies inside the connector call of the inline step.
	cfg := h.cfg
	cfg.Connectors = crashing{}
	dying := worker.NewEngine(cfg)
	due := h.queue.due()
	require.Len(t, due, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = dying.ProcessTask(h.ctx, taskFor(due[0].payload))
	}()
	wg.Wait()
	h.queue.done(due[0].id) // Asynq would retry it; the relay's task suffices here
	got := h.run(r.ID)
	require.Equal(t, "mail", got.CurrentNode)
	require.Equal(t, []string{"start:out:entered", "look:yes"}, h.path(r.ID))
	// The committed step's outbox item survived the crash: the relay
	// gives the step its own task.
	items := h.outbox()
	require.Len(t, items, 1)
	require.Equal(t, got.Sequence, items[0].Sequence)
	// Not while the dead attempt could still be sending: the relay and
	// the reconciler leave it alone for the send lease.
	h.clock.Add(2 * time.Second)
	relay := worker.NewRelay(h.eng, time.Second)
	n, err := relay.Drain(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	overdue, err := h.st.ListDueRuns(h.ctx, h.clock.Now(), "", 10)
	require.NoError(t, err)
	require.Empty(t, overdue)
	h.clock.Add(75 * time.Second)
	n, err = relay.Drain(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Past the lease the outcome is unknown, surfaced and never re-sent.
	h.drain()
	require.Equal(t, []string{"start:out:entered", "look:yes", "mail:out:unknown"}, h.path(r.ID))
	require.Empty(t, h.inbox.sent(), "never re-sent blindly")
	require.Equal(t, store.DeliveryUnknown, h.deliveries(r.ID)[0].Status)
}
