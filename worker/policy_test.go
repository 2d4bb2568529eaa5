package worker_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// journey builds a small journey document: a webhook trigger into the
// given nodes and edges (JSON fragments), with settings.
func journey(name, settings, nodes, edges string) []byte {
	if settings == "" {
		settings = `{"reentry": "always"}`
	}
	return []byte(fmt.Sprintf(`{"format": 1, "name": %q, "settings": %s,
	"nodes": [{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}}, %s],
	"edges": [%s]}`, name, settings, nodes, edges))
}

const mailNode = `{"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi {{ profile.first_name ?? \"you\" }}", "body": "<p>Hello</p>"}}`

func TestQuietHoursDeferSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Quiet", `{"reentry": "always", "quiet_hours": {"start": "21:00", "end": "08:00"}, "timezone": "Europe/Paris"}`,
		mailNode, `{"from": "start", "to": "mail"}`))
	h.clock.Set(time.Date(2026, 6, 1, 21, 30, 0, 0, time.UTC)) // 23:30 in Paris
	p := h.profile("q", nil, "email", "q@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Empty(t, h.inbox.sent())
	got := h.run(r.ID)
	require.Equal(t, store.RunWaiting, got.Status)
	require.True(t, got.WaitUntil.Equal(time.Date(2026, 6, 2, 6, 0, 0, 0, time.UTC)), "08:00 Paris: %v", got.WaitUntil)
	require.Equal(t, []string{"start:out:entered", "mail::deferred"}, h.path(r.ID))
	h.advance(8*time.Hour + 29*time.Minute) // 07:59 Paris
	require.Empty(t, h.inbox.sent())
	h.advance(time.Minute)
	require.Len(t, h.inbox.sent(), 1)
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "mail::deferred", "mail:out:sent"}, h.path(r.ID))
}

func TestFrequencyCapSkips(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Capped", `{"reentry": "always", "frequency_cap": {"email": {"count": 2, "period": "day"}}}`,
		mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("cap", nil, "email", "cap@example.com", "timezone", "America/New_York")
	var runs []store.Run
	for i := 0; i < 3; i++ {
		runs = append(runs, h.enter(jid, p, worker.EntryEvent{}))
		h.drain()
	}
	require.Len(t, h.inbox.sent(), 2)
	require.Equal(t, []string{"start:out:entered", "mail:out:skipped"}, h.path(runs[2].ID))
	require.Equal(t, store.RunCompleted, h.run(runs[2].ID).Status, "a capped step is skipped and the run continues")
	// A new calendar day in the profile's time zone (midnight in New York is 04:00 UTC).
	h.clock.Set(time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC))
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
}

func TestConnectorFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	withFailedPath := h.publish(journey("With failed path", "", mailNode+`, {"id": "oops", "kind": "update_profile", "config": {"assignments": [{"attribute": "mail_failed", "expr": "true"}]}}`,
		`{"from": "start", "to": "mail"}, {"from": "mail", "port": "failed", "to": "oops"}`))
	bare := h.publish(journey("Bare", "", mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("f", nil, "email", "f@example.com")

	t.Run("429 then 500 then success: sent once", func(t *testing.T) {
		h.inbox.fail(connectors.TransientError("429 Too Many Requests", 30*time.Second, nil), connectors.TransientError("500 from provider", 0, nil))
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain() // 429
		d := h.deliveries(r.ID)
		require.Len(t, d, 1)
		require.Equal(t, store.DeliveryPending, d[0].Status)
		require.Contains(t, d[0].Error, "429")
		h.drain() // 500
		h.drain() // success
		d = h.deliveries(r.ID)
		require.Equal(t, store.DeliveryDelivered, d[0].Status)
		require.Equal(t, 3, d[0].Attempts)
		require.Empty(t, d[0].Error)
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
	})
	t.Run("Retry-After is honoured", func(t *testing.T) {
		err := connectors.TransientError("429", 42*time.Second, nil)
		require.Equal(t, 42*time.Second, worker.RetryDelay(1, err, nil))
		require.Equal(t, 2*time.Second, worker.RetryDelay(1, errors.New("db hiccup"), nil))
		require.Equal(t, 10*time.Minute, worker.RetryDelay(20, errors.New("db hiccup"), nil))
	})
	t.Run("permanent failure takes the failed port", func(t *testing.T) {
		h.inbox.fail(connectors.PermanentError("550 mailbox does not exist", nil))
		r := h.enter(withFailedPath, p, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "mail:failed:failed", "oops:out"}, h.path(r.ID))
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		d := h.deliveries(r.ID)
		require.Equal(t, store.DeliveryFailed, d[0].Status)
		require.Equal(t, "550 mailbox does not exist", d[0].Error)
	})
	t.Run("permanent failure without a failed path fails the run with the reason", func(t *testing.T) {
		h.inbox.fail(connectors.PermanentError("21211 invalid number", nil))
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain()
		got := h.run(r.ID)
		require.Equal(t, store.RunFailed, got.Status)
		require.Contains(t, got.Error, "21211 invalid number")
		require.Equal(t, "mail", got.CurrentNode)
	})
	t.Run("unknown outcome is surfaced, not re-sent", func(t *testing.T) {
		before := len(h.inbox.sent())
		h.inbox.fail(connectors.UnknownError("connection lost after DATA", nil))
		r := h.enter(bare, p, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "mail:out:unknown"}, h.path(r.ID))
		d := h.deliveries(r.ID)
		require.Equal(t, store.DeliveryUnknown, d[0].Status)
		require.Len(t, h.inbox.sent(), before)
	})
	t.Run("a profile without email fails the step", func(t *testing.T) {
		nomail := h.profile("nomail", nil)
		r := h.enter(withFailedPath, nomail, worker.EntryEvent{})
		h.drain()
		require.Equal(t, []string{"start:out:entered", "mail:failed:failed", "oops:out"}, h.path(r.ID))
	})
	t.Run("a deleted connector fails the step with its name", func(t *testing.T) {
		doc := strings.Replace(string(journey("Other connector", "", mailNode, `{"from": "start", "to": "mail"}`)), `"connector": "sandbox"`, `"connector": "sandbox"`, 1)
		jid := h.publish([]byte(doc))
		r := h.enter(jid, p, worker.EntryEvent{})
		h.drain()
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	})
}

func TestCrashDuringSend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Crash", "", mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("c", nil, "email", "c@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)

	// Simulate a worker killed after writing the delivery and (maybe)
	// calling the provider, before committing the step: the delivery is
	// pending with an attempt and no recorded error.
	r2 := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	ds := h.deliveries(r2.ID)
	require.Len(t, ds, 1)
	// Recreate the crashed state on a third run by hand. Its entry walked
	// the trigger step and stopped at the action, whose task waits.
	r3 := h.enter(jid, p, worker.EntryEvent{})
	got := h.run(r3.ID)
	require.Equal(t, "mail", got.CurrentNode)
	_, err := h.st.CreateDelivery(h.ctx, store.Delivery{WorkspaceID: store.DefaultWorkspaceID, RunID: r3.ID, Sequence: got.Sequence, NodeID: "mail",
		ProfileID: p.ID, IdempotencyKey: fmt.Sprintf("%s:%d", r3.ID, got.Sequence), Connector: "sandbox", Channel: "send_email", Attempts: 1})
	require.NoError(t, err)
	sent := len(h.inbox.sent())

	// The retry comes within the send lease: it backs off instead of guessing.
	h.drain()
	require.Equal(t, "mail", h.run(r3.ID).CurrentNode)
	require.Len(t, h.inbox.sent(), sent)

	// After the lease the outcome is unknown: marked, surfaced, not re-sent.
	h.advance(2 * time.Minute)
	h.drain()
	require.Equal(t, []string{"start:out:entered", "mail:out:unknown"}, h.path(r3.ID))
	require.Len(t, h.inbox.sent(), sent, "never re-sent blindly")
	d := h.deliveries(r3.ID)
	require.Equal(t, store.DeliveryUnknown, d[0].Status)
	require.Contains(t, d[0].Error, "may or may not have gone out")
}

func TestDuplicateTasksDoNothingTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Dup", "", mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("d", nil, "email", "d@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	// Run every task twice, concurrently.
	for i := 0; i < 5; i++ {
		due := h.queue.due()
		var wg sync.WaitGroup
		for _, it := range due {
			for k := 0; k < 2; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = h.eng.ProcessTask(h.ctx, taskFor(it.payload))
				}()
			}
		}
		wg.Wait()
		for _, it := range due {
			h.queue.done(it.id)
		}
		h.clock.Add(4 * time.Minute) // past any send lease a racing attempt set
	}
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
	require.Len(t, h.deliveries(r.ID), 1)
	require.Len(t, h.inbox.sent(), 1, "one message")
}

func TestEventAndTimeoutRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Race", "", `{"id": "wait", "kind": "wait_event", "config": {"event": "paid", "timeout": "1h"}},
		{"id": "yes", "kind": "exit", "config": {"reason": "paid"}}, {"id": "no", "kind": "exit", "config": {"reason": "timeout"}}`,
		`{"from": "start", "to": "wait"}, {"from": "wait", "port": "matched", "to": "yes"}, {"from": "wait", "port": "timeout", "to": "no"}`))
	for i := 0; i < 40; i++ {
		p := h.profile(fmt.Sprint("race", i), nil)
		r := h.enter(jid, p, worker.EntryEvent{})
		h.drain()
		h.clock.Add(time.Hour)
		ev, err := h.st.InsertEvent(h.ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: "paid", OccurredAt: h.clock.Now()})
		require.NoError(t, err)
		due := h.queue.due()
		require.Len(t, due, 1)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = h.eng.HandleEvent(h.ctx, ev) }()
		go func() { defer wg.Done(); _ = h.eng.ProcessTask(h.ctx, taskFor(due[0].payload)) }()
		wg.Wait()
		h.queue.done(due[0].id)
		h.drain()
		path := h.path(r.ID)
		require.Len(t, path, 3, "%v", path)
		require.Contains(t, []string{"wait:matched:matched", "wait:timeout:timeout"}, path[1], "exactly one of the two won")
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	}
}

func TestStepBudgetStopsLoops(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Loop", `{"reentry": "always", "step_budget": 10}`,
		`{"id": "again", "kind": "condition", "config": {"expr": "true"}}, {"id": "pause", "kind": "delay", "config": {"duration": "1m"}}`,
		`{"from": "start", "to": "again"}, {"from": "again", "port": "yes", "to": "pause"}, {"from": "pause", "to": "again"}`))
	p := h.profile("loop", nil)
	r := h.enter(jid, p, worker.EntryEvent{})
	for i := 0; i < 20; i++ {
		h.advance(time.Minute)
	}
	got := h.run(r.ID)
	require.Equal(t, store.RunFailed, got.Status)
	require.Contains(t, got.Error, "step budget of 10 steps")
	require.Len(t, h.path(r.ID), 10)
}

func TestPauseResumeCancelRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Control", "", `{"id": "wait", "kind": "delay", "config": {"duration": "1h"}}, `+mailNode,
		`{"from": "start", "to": "wait"}, {"from": "wait", "to": "mail"}`))
	p := h.profile("ctl", nil, "email", "ctl@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, store.RunWaiting, h.run(r.ID).Status)

	_, err := h.st.SetJourneyStatus(h.ctx, store.DefaultWorkspaceID, jid, store.JourneyPaused, "test")
	require.NoError(t, err)
	_, err = h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID})
	require.ErrorIs(t, err, worker.ErrJourneyNotLive, "a paused journey takes no entries")
	// The timer falls due while paused: the run does not advance.
	h.advance(2 * time.Hour)
	require.Equal(t, store.RunPaused, h.run(r.ID).Status)
	require.Empty(t, h.inbox.sent())
	n, err := h.eng.PauseRuns(h.ctx, jid)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = h.st.SetJourneyStatus(h.ctx, store.DefaultWorkspaceID, jid, store.JourneyLive, "test")
	require.NoError(t, err)
	n, err = h.eng.ResumeRuns(h.ctx, jid)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	relay := worker.NewRelay(h.eng, time.Second)
	h.clock.Add(2 * time.Second)
	moved, err := relay.Drain(h.ctx)
	require.NoError(t, err)
	require.Zero(t, moved, "resuming enqueued the task itself")
	require.Equal(t, 1, h.queue.len())
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Len(t, h.inbox.sent(), 1)

	// Cancel one run.
	r2 := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	cancelled, err := h.eng.CancelRun(h.ctx, store.DefaultWorkspaceID, r2.ID, "cancelled by test")
	require.NoError(t, err)
	require.Equal(t, store.RunExited, cancelled.Status)
	_, err = h.eng.CancelRun(h.ctx, store.DefaultWorkspaceID, r2.ID, "again")
	require.ErrorIs(t, err, store.ErrConflict)
	h.advance(2 * time.Hour)
	require.Len(t, h.inbox.sent(), 1, "a cancelled run sends nothing")

	// Retry a failed run from its failed node.
	h.inbox.fail(connectors.PermanentError("554 rejected", nil))
	r3 := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	h.advance(2 * time.Hour)
	require.Equal(t, store.RunFailed, h.run(r3.ID).Status)
	retried, err := h.eng.RetryRun(h.ctx, store.DefaultWorkspaceID, r3.ID)
	require.NoError(t, err)
	require.Equal(t, store.RunActive, retried.Status)
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(r3.ID).Status)
	require.Len(t, h.inbox.sent(), 2)

	// Archive and exit the live runs.
	r4 := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	exited, err := h.eng.ExitRuns(h.ctx, jid, "journey archived")
	require.NoError(t, err)
	require.Equal(t, 1, exited)
	require.Equal(t, store.RunExited, h.run(r4.ID).Status)
}

func TestEntryWindowAndSuppression(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Window", `{"reentry": "always", "entry_window": {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}}`,
		mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("win", nil, "email", "win@example.com")
	h.enter(jid, p, worker.EntryEvent{})
	h.clock.Set(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC))
	_, err := h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID})
	require.ErrorIs(t, err, worker.ErrOutsideWindow)

	// Consent withdrawn after entry but before the send: checked at send time.
	h.clock.Set(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	r := h.enter(jid, p, worker.EntryEvent{})
	_, err = h.st.SetProfileConsent(h.ctx, p.ID, "email", "unsubscribed", "link")
	require.NoError(t, err)
	h.drain()
	require.Equal(t, []string{"start:out:entered", "mail:out:skipped"}, h.path(r.ID))
	d := h.deliveries(r.ID)
	require.Equal(t, store.DeliverySuppressed, d[0].Status)
}

// TestEarlyWakeUpIsTimedExactly: Asynq may run a scheduled task up to a
// second early; the run must still move on at its due time, not before.
func TestEarlyWakeUpIsTimedExactly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Early", "", `{"id": "wait", "kind": "delay", "config": {"duration": "10s"}}, `+mailNode,
		`{"from": "start", "to": "wait"}, {"from": "wait", "to": "mail"}`))
	p := h.profile("early", nil, "email", "early@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	wake := *h.run(r.ID).WaitUntil

	// Deliver the scheduled task 900ms early, as Asynq's whole-second
	// scores allow.
	h.clock.Set(wake.Add(-900 * time.Millisecond))
	h.queue.mu.Lock()
	for id, it := range h.queue.tasks {
		it.at = h.clock.Now()
		h.queue.tasks[id] = it
	}
	h.queue.mu.Unlock()
	h.drain()
	got := h.run(r.ID)
	require.Equal(t, store.RunWaiting, got.Status, "not before its time")
	require.Empty(t, h.inbox.sent())
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID))

	h.clock.Set(wake)
	h.drain()
	require.Equal(t, []string{"start:out:entered", "wait:out:waited", "mail:out:sent"}, h.path(r.ID))
	steps, err := h.st.ListRunSteps(h.ctx, r.ID)
	require.NoError(t, err)
	require.True(t, steps[1].FinishedAt.Equal(wake), "woke exactly on time: %v vs %v", steps[1].FinishedAt, wake)
}

// TestRetryDoesNotReapplyPolicies: a send that failed transiently just
// before quiet hours is retried inside them — not deferred to a new step
// (which would send a second message if the first one went out), and not
// counted against the frequency cap by its own earlier attempt.
func TestRetryDoesNotReapplyPolicies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Retry in quiet hours", `{"reentry": "always", "quiet_hours": {"start": "22:00", "end": "08:00"},
		"frequency_cap": {"email": {"count": 1, "period": "day"}}}`, mailNode, `{"from": "start", "to": "mail"}`))
	h.clock.Set(time.Date(2026, 6, 1, 21, 59, 50, 0, time.UTC))
	p := h.profile("late", nil, "email", "late@example.com")
	h.inbox.fail(connectors.TransientError("500 from provider", 0, nil))
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain() // attempt 1 fails
	require.Empty(t, h.inbox.sent())
	h.clock.Add(40 * time.Second) // 22:00:30, quiet hours
	h.drain()
	require.Len(t, h.inbox.sent(), 1)
	require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
	d := h.deliveries(r.ID)
	require.Len(t, d, 1)
	require.Equal(t, 2, d[0].Attempts)
}
