package worker_test

import (
	"fmt"
	"strings"
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

// twoStep is a journey: start → <wait node> → mail.
func twoStep(waitNode string) []byte {
	timeout := ""
	if strings.Contains(waitNode, "wait_event") {
		timeout = `, {"from": "w", "port": "timeout", "to": "mail"}`
	}
	return []byte(`{"format": 1, "name": "Waits", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    ` + waitNode + `,
    {"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "w"}, {"from": "w", "port": "` + map[bool]string{true: "matched", false: "out"}[timeout != ""] + `", "to": "mail"}` + timeout + `]}`)
}

// TestMigrateRecomputesWaits: delays and event timeouts of moved runs count
// from when the run started waiting, in every mode, and a wake time already
// past wakes the run now.
func TestMigrateRecomputesWaits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		// wake is the expected wake time, from the wait start t0 and the
		// publish time now.
		wake   func(t0, now time.Time) time.Time
		status string
	}{
		{"delay to a longer delay", `{"id": "w", "kind": "delay", "config": {"duration": "2h"}}`,
			`{"id": "w", "kind": "delay", "config": {"duration": "5h"}}`,
			func(t0, _ time.Time) time.Time { return t0.Add(5 * time.Hour) }, store.RunWaiting},
		{"delay to a delay already over", `{"id": "w", "kind": "delay", "config": {"duration": "2h"}}`,
			`{"id": "w", "kind": "delay", "config": {"duration": "10m"}}`,
			func(_, now time.Time) time.Time { return now }, store.RunWaiting},
		{"delay to a local time", `{"id": "w", "kind": "delay", "config": {"duration": "2h"}}`,
			`{"id": "w", "kind": "delay", "config": {"mode": "until_time", "time": "09:00"}}`,
			// t0 is Monday 10:00 UTC: the next 09:00 after it is Tuesday's.
			func(t0, _ time.Time) time.Time { return time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC) }, store.RunWaiting},
		{"event wait to a shorter timeout", `{"id": "w", "kind": "wait_event", "config": {"event": "purchase", "timeout": "2d"}}`,
			`{"id": "w", "kind": "wait_event", "config": {"event": "order", "timeout": "36h"}}`,
			func(t0, _ time.Time) time.Time { return t0.Add(36 * time.Hour) }, store.RunWaitingEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.svc = h.svc.WithClock(h.clock.Now)
			id := h.publish(twoStep(tc.from))
			t0 := h.clock.Now()
			p := h.profile("p1", nil, "email", "p1@example.com")
			r := h.enter(id, p, worker.EntryEvent{Name: "signup"})
			h.drain()
			require.Equal(t, "w", h.run(r.ID).CurrentNode)
			h.advance(30 * time.Minute)
			now := h.clock.Now()
			_, _, err := h.svc.SaveDraft(h.ctx, store.DefaultWorkspaceID, id, 0, twoStep(tc.to), "test", journeys.SaveOptions{})
			require.NoError(t, err)
			_, rep, err := h.svc.PublishPlan(h.ctx, store.DefaultWorkspaceID, id, journeys.PublishRequest{By: "t",
				Plan: journeys.Plan{"w": {Action: journeys.PlanMove, To: "w"}}})
			require.NoError(t, err)
			require.Equal(t, 1, rep.Moved)
			got := h.run(r.ID)
			require.Equal(t, tc.status, got.Status)
			want := tc.wake(t0, now)
			require.True(t, want.Equal(*got.WaitUntil), "wakes at %s, want %s", got.WaitUntil, want)
			if tc.status == store.RunWaitingEvent {
				require.Equal(t, "order", got.WaitEvent)
			}
			// It wakes then, on the new version, and sends once.
			if d := want.Sub(h.clock.Now()); d > 0 {
				h.advance(d - 10*time.Second)
				settle(t, h)
				require.Empty(t, h.inbox.sent(), "not before its wake time")
			}
			h.clock.Set(want)
			settle(t, h)
			require.Len(t, h.inbox.sent(), 1)
			require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		})
	}
}

// TestMigratePausedAndExit: a paused run moves and stays paused; exited
// runs end with a ledger step and free their profile's entry.
func TestMigratePausedAndExit(t *testing.T) {
	h := newHarness(t)
	h.svc = h.svc.WithClock(h.clock.Now)
	id := h.publish(twoStep(`{"id": "w", "kind": "delay", "config": {"duration": "2h"}}`))
	a := h.enter(id, h.profile("a", nil, "email", "a@example.com"), worker.EntryEvent{Name: "signup"})
	h.drain()
	_, err := h.st.PauseJourneyRuns(h.ctx, id)
	require.NoError(t, err)
	_, _, err = h.svc.SaveDraft(h.ctx, store.DefaultWorkspaceID, id, 0, twoStep(`{"id": "w", "kind": "delay", "config": {"duration": "3h"}}`), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, rep, err := h.svc.PublishPlan(h.ctx, store.DefaultWorkspaceID, id, journeys.PublishRequest{By: "t", Plan: journeys.Plan{"w": {Action: journeys.PlanMove, To: "w"}}})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Moved)
	got := h.run(a.ID)
	require.Equal(t, store.RunPaused, got.Status)
	require.Equal(t, 2, got.Version)
	require.Nil(t, got.NextDueAt, "no task while paused")

	_, _, err = h.svc.SaveDraft(h.ctx, store.DefaultWorkspaceID, id, 0, twoStep(`{"id": "w", "kind": "delay", "config": {"duration": "4h"}}`), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, rep, err = h.svc.PublishPlan(h.ctx, store.DefaultWorkspaceID, id, journeys.PublishRequest{By: "t", Plan: journeys.Plan{"w": {Action: journeys.PlanExit}}})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Exited)
	got = h.run(a.ID)
	require.Equal(t, store.RunExited, got.Status)
	require.Equal(t, []string{"start:out:entered", "w::migrated", "w::exited"}, h.path(a.ID))
	// The profile may enter again (its active-run slot was released).
	b := h.enter(id, h.profile("a", nil, "email", "a@example.com"), worker.EntryEvent{Name: "signup"})
	require.NotEqual(t, a.ID, b.ID)
}
