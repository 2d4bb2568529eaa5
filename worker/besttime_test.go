package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const bestTimeNodes = `{"id": "wait", "kind": "delay", "config": {"mode": "best_time", "window": "24h", "default_hour": 10}}, {"id": "done", "kind": "exit"}`
const bestTimeEdges = `{"from": "start", "to": "wait"}, {"from": "wait", "to": "done"}`

// habit records n engagement events at local hour:10 on the n days before now.
func (h *harness) habit(p store.Profile, loc *time.Location, name string, hour, n int) {
	h.t.Helper()
	now := h.clock.Now().In(loc)
	for d := 1; d <= n; d++ {
		at := time.Date(now.Year(), now.Month(), now.Day()-d, hour, 10, 0, 0, loc)
		_, err := h.st.InsertEvent(h.ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: name, OccurredAt: at})
		require.NoError(h.t, err)
	}
}

// scheduled is the run's best-time decision step.
func (h *harness) scheduled(runID string) store.RunStep {
	h.t.Helper()
	steps, err := h.st.ListRunSteps(h.ctx, runID)
	require.NoError(h.t, err)
	for _, s := range steps {
		if s.Outcome == worker.OutcomeScheduled {
			return s
		}
	}
	h.t.Fatalf("run %s has no scheduled step: %v", runID, h.path(runID))
	return store.RunStep{}
}

func TestBestTimeFromProfileHistory(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // 2026-06-01 10:00 UTC = 06:00 in New York
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	jid := h.publish(journey("Best time", `{"reentry": "always", "timezone": "UTC"}`, bestTimeNodes, bestTimeEdges))
	p := h.profile("owl", nil, "timezone", "America/New_York")
	h.habit(p, ny, "email_opened", 20, 8)
	h.habit(p, ny, "page_view", 7, 8) // not engagement
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()

	run := h.run(r.ID)
	require.Equal(t, store.RunWaiting, run.Status)
	local := run.WaitUntil.In(ny)
	require.Equal(t, time.Date(2026, 6, 1, 20, 0, 0, 0, ny), local, "20:00 in the profile's time zone")
	st := h.scheduled(r.ID)
	require.Equal(t, "profile", st.Detail["source"])
	require.Equal(t, float64(20), st.Detail["hour"])
	require.Equal(t, float64(8), st.Detail["evidence"])
	require.Equal(t, "America/New_York", st.Detail["timezone"])

	h.advance(14 * time.Hour)
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "wait::scheduled", "wait:out:waited", "done::completed"}, h.path(r.ID))
}

func TestBestTimeFallbacks(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // 10:00 UTC
	jid := h.publish(journey("Best time", `{"reentry": "always", "timezone": "UTC"}`, bestTimeNodes, bestTimeEdges))

	// No history anywhere: the default hour, 10:00 UTC, is now.
	first := h.enter(jid, h.profile("first", nil), worker.EntryEvent{})
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(first.ID).Status)
	steps, err := h.st.ListRunSteps(h.ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, "default", steps[1].Detail["source"])
	require.Equal(t, worker.OutcomeWaited, steps[1].Outcome, "the best hour is the current one: no wait")

	// 25 entrants who each clicked at 14:xx UTC on a day: the audience's hour.
	for i := 0; i < 25; i++ {
		p := h.profile(fmt.Sprint("e", i), nil)
		h.habit(p, time.UTC, "email_clicked", 14, 1)
		h.enter(jid, p, worker.EntryEvent{})
		h.drain()
	}
	newbie := h.profile("newbie", nil)
	h.habit(newbie, time.UTC, "purchase", 3, 2) // too little of its own
	r := h.enter(jid, newbie, worker.EntryEvent{})
	h.drain()
	st := h.scheduled(r.ID)
	require.Equal(t, "segment", st.Detail["source"])
	require.Equal(t, float64(14), st.Detail["hour"])
	require.GreaterOrEqual(t, st.Detail["evidence"], float64(25))
	require.Equal(t, time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC), *h.run(r.ID).WaitUntil)
}

func TestBestTimeDefaultHourAndQuietHours(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 6, 1, 6, 30, 0, 0, time.UTC))
	// Default hour 10 in the journey's time zone (Tokyo, UTC+9): 01:00 UTC tomorrow.
	jid := h.publish(journey("Default", `{"reentry": "always", "timezone": "Asia/Tokyo"}`, bestTimeNodes, bestTimeEdges))
	r := h.enter(jid, h.profile("d", nil), worker.EntryEvent{})
	h.drain()
	require.Equal(t, time.Date(2026, 6, 2, 1, 0, 0, 0, time.UTC), *h.run(r.ID).WaitUntil)
	require.Equal(t, "default", h.scheduled(r.ID).Detail["source"])

	// A 20:00 habit inside quiet hours 19:00-21:00: the nearest allowed hour, 21:00.
	quiet := h.publish(journey("Quiet", `{"reentry": "always", "timezone": "UTC", "quiet_hours": {"start": "19:00", "end": "21:00"}}`,
		bestTimeNodes, bestTimeEdges))
	p := h.profile("q", nil)
	h.habit(p, time.UTC, "email_opened", 20, 5)
	r2 := h.enter(quiet, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, time.Date(2026, 6, 1, 21, 0, 0, 0, time.UTC), *h.run(r2.ID).WaitUntil)
	st := h.scheduled(r2.ID)
	require.Equal(t, float64(20), st.Detail["hour"])
	require.Contains(t, st.Detail["note"], "quiet")
}
