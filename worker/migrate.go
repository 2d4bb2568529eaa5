package worker

import (
	"fmt"
	"time"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/store"
)

// MigrationTarget is where a parked run lands at a node of a new version:
// its status, its wait and when its next task runs.
type MigrationTarget struct {
	Status    string
	WaitUntil *time.Time
	WaitEvent string
	NextDueAt *time.Time // nil: no task (a paused run; resuming the journey schedules it)
}

// PlanMigration computes where run, parked since `since` (the time it
// started waiting at its node), lands at node toID of the compiled version
// c (issue 10, migration planner). Delays are recomputed from `since`, not
// from now: a delay node wakes at since + its duration, or at the first
// local time / date its rule gives counted from since; a wait_event times
// out at since + its timeout. A wake time already past wakes the run now.
// Any other node runs as soon as its task does (an action sends then).
// A paused run stays paused at its new node.
func PlanMigration(c *flows.Compiled, toID string, run store.Run, j store.Journey, p store.Profile, since, now time.Time) (MigrationTarget, error) {
	n, ok := c.Nodes[toID]
	if !ok {
		return MigrationTarget{}, fmt.Errorf("node %q is not in the new version", toID)
	}
	now = now.UTC()
	clamp := func(t time.Time) *time.Time {
		if t.Before(now) {
			t = now
		}
		t = t.UTC()
		return &t
	}
	var t MigrationTarget
	switch n.Kind {
	case "delay":
		var zero Engine
		x := &exec{c: c, run: run, journey: j, profile: p, now: since}
		x.env = zero.env(run, j, p, since)
		wake, ok, _ := x.wakeTime(n)
		if !ok {
			wake = now // no date: the engine continues at once, as it would have
		}
		t = MigrationTarget{Status: store.RunWaiting, WaitUntil: clamp(wake)}
		t.NextDueAt = t.WaitUntil
	case "wait_event":
		t = MigrationTarget{Status: store.RunWaitingEvent, WaitUntil: clamp(since.Add(n.Config.Duration("timeout"))), WaitEvent: n.Config.String("event")}
		t.NextDueAt = t.WaitUntil
	default:
		t = MigrationTarget{Status: store.RunActive, NextDueAt: &now}
	}
	if run.Status == store.RunPaused {
		t.Status, t.NextDueAt = store.RunPaused, nil
	}
	return t, nil
}
