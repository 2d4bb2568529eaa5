package worker_test

import (
	"context"
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

func TestInlineActionRetries(t *testing.T) {
	t.Parallel()
	h := inlineHarness(t)
	withFailedPath := h.publish(journey("With failed path", "", mailNode+`, {"id": "oops", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "mail"}, {"from": "mail", "port": "failed", "to": "oops"}`))
	bare := h.publish(journey("Bare", "", mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("f", nil, "email", "f@example.com")

	t.Run("429 then 500 then success: the entry task's retries take the step, sent once", func(t *testing.T) {
		h.inbox.fail(connectors.TransientError("429 Too Many Requests", 30*time.Second, nil), connectors.TransientError("500 from provider", 0, nil))
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain() // 429
		d := h.deliveries(r.ID)
		require.Len(t, d, 1)
		require.Equal(t, store.DeliveryPending, d[0].Status)
		require.Contains(t, d[0].Error, "429")
		require.Equal(t, []string{"start:out:entered"}, h.path(r.ID), "the steps before the action are committed once")
		require.Empty(t, h.outbox(), "the retry belongs to the failed task, not to a second one")
		h.drain() // 500
		h.drain() // success
		d = h.deliveries(r.ID)
		require.Equal(t, store.DeliveryDelivered, d[0].Status)
		require.Equal(t, 3, d[0].Attempts)
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
	})
	t.Run("permanent failure takes the failed port", func(t *testing.T) {
		h.inbox.fail(connectors.PermanentError("550 mailbox does not exist", nil))
		r := h.enter(withFailedPath, p, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "mail:failed:failed", "oops::completed"}, h.path(r.ID))
	})
	t.Run("a step that keeps failing fails its run on the last attempt", func(t *testing.T) {
		errs := make([]error, maxRetry+1)
		for i := range errs {
			errs[i] = connectors.TransientError("503", 0, nil)
		}
		h.inbox.fail(errs...)
		r := h.enter(bare, p, worker.EntryEvent{})
		for i := 0; i <= maxRetry; i++ {
			h.drain()
		}
		got := h.run(r.ID)
		require.Equal(t, store.RunFailed, got.Status)
		require.Equal(t, "mail", got.CurrentNode)
		require.Contains(t, got.Error, "gave up")
		require.Equal(t, store.DeliveryFailed, h.deliveries(r.ID)[0].Status)
	})
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
	jid := h.publish(journey("Crash", "", mailNode, `{"from": "start", "to": "mail"}`))
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
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID))
	// The committed step's outbox item survived the crash: the relay
	// gives the step its own task.
	items := h.outbox()
	require.Len(t, items, 1)
	require.Equal(t, got.Sequence, items[0].Sequence)
	h.clock.Add(2 * time.Second)
	n, err := worker.NewRelay(h.eng, time.Second).Drain(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Within the send lease the step backs off; after it the outcome is
	// unknown, surfaced and never re-sent.
	h.drain()
	require.Empty(t, h.inbox.sent())
	h.advance(2 * time.Minute)
	h.drain()
	require.Equal(t, []string{"start:out:entered", "mail:out:unknown"}, h.path(r.ID))
	require.Empty(t, h.inbox.sent(), "never re-sent blindly")
	require.Equal(t, store.DeliveryUnknown, h.deliveries(r.ID)[0].Status)
}
