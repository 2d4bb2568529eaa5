package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const migrateV1 = `{"format": 1, "name": "Migrate", "settings": {"reentry": "never", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hello", "body": "<p>hi</p>"}},
    {"id": "wait", "kind": "delay", "config": {"duration": "2h"}},
    {"id": "bye", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Bye", "body": "<p>bye</p>"}}
  ],
  "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "wait"}, {"from": "wait", "to": "bye"}]}`

// v2 deletes "wait" for a 3h delay "wait3h" and adds a last email.
const migrateV2 = `{"format": 1, "name": "Migrate", "settings": {"reentry": "never", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hello", "body": "<p>hi</p>"}},
    {"id": "wait3h", "kind": "delay", "config": {"duration": "3h"}},
    {"id": "bye", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Bye", "body": "<p>bye</p>"}},
    {"id": "extra", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Extra", "body": "<p>more</p>"}}
  ],
  "edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "wait3h"}, {"from": "wait3h", "to": "bye"}, {"from": "bye", "to": "extra"}]}`

// TestMigrateThousandWaitingRuns: 1,000 runs waiting in a 2h delay move to
// a 3h delay of the new version. None is lost or duplicated, each wakes at
// (the time it started waiting) + 3h, and every run reaches the end
// exactly once with one delivery per send step.
func TestMigrateThousandWaitingRuns(t *testing.T) {
	h := newHarness(t)
	h.svc = h.svc.WithClock(h.clock.Now)
	id := h.publish([]byte(migrateV1))
	const n = 1000
	runs := make([]store.Run, n)
	since := map[string]time.Time{}
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			h.clock.Add(time.Second)
		}
		p := h.profile(fmt.Sprintf("m%04d", i), nil, "email", fmt.Sprintf("m%04d@example.com", i))
		runs[i] = h.enter(id, p, worker.EntryEvent{Name: "signup"})
		since[runs[i].ID] = h.clock.Now()
		if i%10 == 9 {
			h.drain()
		}
	}
	h.drain()
	require.Equal(t, n, len(h.inbox.sent()), "every run sent its first email")
	for _, r := range runs {
		got := h.run(r.ID)
		require.Equal(t, store.RunWaiting, got.Status)
		require.Equal(t, "wait", got.CurrentNode)
	}

	h.advance(30 * time.Minute)
	_, _, err := h.svc.SaveDraft(h.ctx, store.DefaultWorkspaceID, id, 0, []byte(migrateV2), "test", journeys.SaveOptions{})
	require.NoError(t, err)

	// Without a plan, the deleted node holding runs is refused, naming it.
	_, err = h.svc.Publish(h.ctx, store.DefaultWorkspaceID, id, "test")
	var pe *journeys.PlanError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "wait", pe.Problems[0].NodeID)

	plan := journeys.Plan{"wait": {Action: journeys.PlanMove, To: "wait3h"}}
	_, dry, err := h.svc.PublishPlan(h.ctx, store.DefaultWorkspaceID, id, journeys.PublishRequest{Plan: plan, DryRun: true, By: "test"})
	require.NoError(t, err)
	require.EqualValues(t, n, dry.Move)
	require.Equal(t, 1, h.run(runs[0].ID).Version, "a dry run changes nothing")

	v, rep, err := h.svc.PublishPlan(h.ctx, store.DefaultWorkspaceID, id, journeys.PublishRequest{Plan: plan, By: "test",
		Audit: &store.AuditEntry{ActorType: "user", ActorID: "u1"}})
	require.NoError(t, err)
	require.Equal(t, 2, v.Version)
	require.Equal(t, n, rep.Moved)
	require.Empty(t, rep.Skipped)

	for _, r := range runs {
		got := h.run(r.ID)
		require.Equal(t, 2, got.Version)
		require.Equal(t, "wait3h", got.CurrentNode)
		require.Equal(t, store.RunWaiting, got.Status)
		require.NotNil(t, got.WaitUntil)
		require.True(t, since[r.ID].Add(3*time.Hour).Equal(*got.WaitUntil), "run %s wakes at %s, want %s", r.ID, got.WaitUntil, since[r.ID].Add(3*time.Hour))
	}
	audit, err := h.st.ListAudit(h.ctx, store.DefaultWorkspaceID, store.AuditFilter{Action: "journey.publish", TargetID: id})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.EqualValues(t, n, audit[0].Summary["moved"])

	// The relay enqueues the moved runs' tasks.
	h.clock.Add(2 * time.Second)
	moved, err := worker.NewRelay(h.eng, time.Second).Drain(h.ctx)
	require.NoError(t, err)
	require.Equal(t, n, moved)

	// At the old wake time (2h) the old tasks find the runs moved on.
	h.advance(2 * time.Hour)
	require.Equal(t, n, len(h.inbox.sent()), "no run woke at the old delay")
	for _, r := range runs[:5] {
		require.Equal(t, store.RunWaiting, h.run(r.ID).Status)
	}
	h.advance(time.Hour)
	settle(t, h)
	if got := len(h.inbox.sent()); got != 3*n {
		r := h.run(runs[0].ID)
		t.Fatalf("sent %d messages, want %d; run 0: %s at %s, path %v", got, 3*n, r.Status, r.CurrentNode, h.path(r.ID))
	}
	for _, r := range runs {
		got := h.run(r.ID)
		require.Equal(t, store.RunCompleted, got.Status, "run %s", r.ID)
		ds := h.deliveries(r.ID)
		require.Len(t, ds, 3)
		require.Equal(t, []string{"hello", "bye", "extra"}, []string{ds[0].NodeID, ds[1].NodeID, ds[2].NodeID})
		migrated := 0
		for _, s := range h.path(r.ID) {
			if s == "wait::migrated" {
				migrated++
			}
		}
		require.Equal(t, 1, migrated, "run %s path %v", r.ID, h.path(r.ID))
	}
	seen := map[string]bool{}
	for _, m := range h.inbox.sent() {
		require.False(t, seen[m.DeliveryID], "delivery %s sent twice", m.DeliveryID)
		seen[m.DeliveryID] = true
	}
}

// settle lets the outbox relay (running every second in production) and
// the queue run until nothing is left to do.
func settle(t *testing.T, h *harness) {
	t.Helper()
	relay := worker.NewRelay(h.eng, time.Second)
	for i := 0; i < 100; i++ {
		h.clock.Add(2 * time.Second)
		n, err := relay.Drain(h.ctx)
		require.NoError(t, err)
		if h.drain() == 0 && n == 0 {
			return
		}
	}
	t.Fatal("the runs never settle")
}
