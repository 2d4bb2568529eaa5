package worker_test

import (
	"hash/fnv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Tests of the instant steps an entry walks before it commits (walkEntry):
// they are in the ledger with the entry, a run they finish gets no task,
// and a run they bring to an action gets its first task there.

const passJourney = `{"id": "check", "kind": "condition", "config": {"expr": "event.properties.pass == true"}}, ` + mailNode + `,
	{"id": "done", "kind": "exit", "config": {}}, {"id": "bye", "kind": "exit", "config": {"reason": "did not pass"}}`

const passEdges = `{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}, {"from": "check", "port": "no", "to": "bye"},
	{"from": "mail", "to": "done"}`

func TestEntryWalksInstantSteps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	p := h.profile("w", nil, "email", "w@example.com")

	// Not passing: the condition and the exit are walked at entry, the
	// run is finished in the entry's commit, and no task is ever queued.
	r := h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": false}})
	require.Equal(t, store.RunCompleted, r.Status)
	got := h.run(r.ID)
	require.Equal(t, store.RunCompleted, got.Status)
	require.Equal(t, "bye", got.CurrentNode)
	require.NotNil(t, got.FinishedAt)
	require.Nil(t, got.NextDueAt)
	require.Equal(t, []string{"start:out:entered", "check:no", "bye::completed"}, h.path(r.ID))
	steps, err := h.st.ListRunSteps(h.ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, false, steps[1].Detail["value"], "the ledger records the value that decided")
	require.Zero(t, h.queue.len(), "no task")
	require.Empty(t, h.outbox(), "no outbox item")
	require.Zero(t, h.drain())

	// Passing: the run enters at the action, where its first task starts.
	r = h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": true}})
	got = h.run(r.ID)
	require.Equal(t, store.RunActive, got.Status)
	require.Equal(t, "mail", got.CurrentNode)
	require.Equal(t, 3, got.Sequence)
	require.Equal(t, []string{"start:out:entered", "check:yes"}, h.path(r.ID))
	require.Equal(t, map[string]time.Time{runTaskID(r.ID, 3): h.clock.Now()}, h.queued())
	require.Equal(t, 1, h.drain())
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r.ID))
	require.Len(t, h.inbox.sent(), 1)
}

// A crash between the entry's commit and its enqueue (Redis unreachable,
// the process killed) loses nothing: the walked run's outbox item and its
// next_due_at are committed with it, so the relay, or the reconciler after
// Redis lost its data, gives it its task at the action.
func TestEntryWalkSurvivesALostEnqueue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Pass", "", passJourney, passEdges))
	p := h.profile("lost", nil, "email", "lost@example.com")
	h.queue.mu.Lock()
	h.queue.refuse = func(string) bool { return true }
	h.queue.mu.Unlock()
	r := h.enter(jid, p, worker.EntryEvent{Properties: map[string]any{"pass": true}})
	h.queue.mu.Lock()
	h.queue.refuse = nil
	h.queue.mu.Unlock()
	require.Zero(t, h.queue.len())

	items := h.outbox()
	require.Len(t, items, 1)
	require.Equal(t, r.ID, items[0].RunID)
	require.Equal(t, 3, items[0].Sequence)
	due, err := h.st.ListDueRuns(h.ctx, time.Time{}, "", 10)
	require.NoError(t, err)
	require.Equal(t, []store.DueRun{{ID: r.ID, Sequence: 3, NextDueAt: due[0].NextDueAt}}, due, "the reconciler's rebuild finds it")

	h.clock.Add(2 * time.Second)
	n, err := worker.NewRelay(h.eng, time.Second).Drain(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, h.drain())
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r.ID))
	require.Len(t, h.inbox.sent(), 1)
}

// What the walk may read of the profile is what the entry knows of it. A
// condition on a stored attribute is not decided at an entry that does
// not know the profile: the run's first task decides it, and sees the
// attribute. An entry that wrote or read the whole profile decides it at
// once, and so does one that knows the fields the condition reads.
func TestEntryWalkSeesTheProfile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Plan", "", `{"id": "check", "kind": "condition", "config": {"expr": "profile.plan == \"pro\""}}, `+mailNode+`,
		{"id": "bye", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}, {"from": "check", "port": "no", "to": "bye"}`))
	p := h.profile("pro", map[string]any{"plan": "pro"}, "email", "pro@example.com")

	r := h.enter(jid, p, worker.EntryEvent{})
	got := h.run(r.ID)
	require.Equal(t, "check", got.CurrentNode, "the entry does not know the profile: it stops before the condition")
	require.Equal(t, 2, got.Sequence)
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID))
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent"}, h.path(r.ID), "the task's condition saw the attribute")

	r, err := h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID,
		Profile: worker.WholeProfile(p)})
	require.NoError(t, err)
	require.Equal(t, []string{"start:out:entered", "check:yes"}, h.path(r.ID), "decided at entry, with the attribute")
	require.Equal(t, "mail", h.run(r.ID).CurrentNode)

	// Known fields only (a webhook's one-commit entry knows what its
	// mapping writes): a condition on them is decided at entry, one on
	// anything else is not.
	known := &worker.EntryProfile{Profile: store.Profile{ExternalID: "pro", Email: "pro@example.com"}, Known: []string{"external_id", "email"}}
	byEmail := h.publish(journey("Email", "", `{"id": "check", "kind": "condition", "config": {"expr": "profile.email == \"pro@example.com\" && profile[\"external_id\"] == \"pro\""}}, `+mailNode,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}`))
	r, err = h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: byEmail, ProfileID: p.ID, Profile: known})
	require.NoError(t, err)
	require.Equal(t, []string{"start:out:entered", "check:yes"}, h.path(r.ID))
	r, err = h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID, Profile: known})
	require.NoError(t, err)
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID), "plan is not known to this entry")
	anyUse := h.publish(journey("Any", "", `{"id": "check", "kind": "condition", "config": {"expr": "len(profile) > 0"}}, `+mailNode,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}`))
	r, err = h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: anyUse, ProfileID: p.ID, Profile: known})
	require.NoError(t, err)
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID), "a use of the profile that names no field is not decided with part of it")
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent"}, h.path(r.ID))
}

// Delays and waits park the run at entry: its first task is the wake-up.
// A random split is decided at entry from the run's id, as a task would.
func TestEntryWalkParksAndSplits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("Later", "", `{"id": "wait", "kind": "delay", "config": {"duration": "1h"}}, `+mailNode,
		`{"from": "start", "to": "wait"}, {"from": "wait", "to": "mail"}`))
	p := h.profile("later", nil, "email", "later@example.com")
	start := h.clock.Now()
	r := h.enter(jid, p, worker.EntryEvent{})
	got := h.run(r.ID)
	require.Equal(t, store.RunWaiting, got.Status)
	require.Equal(t, "wait", got.CurrentNode)
	require.True(t, got.WaitUntil.Equal(start.Add(time.Hour)))
	require.Equal(t, map[string]time.Time{runTaskID(r.ID, 2): start.Add(time.Hour)}, h.queued())
	require.Zero(t, h.drain())
	h.advance(time.Hour)
	require.Equal(t, []string{"start:out:entered", "wait:out:waited", "mail:out:sent"}, h.path(r.ID))

	split := h.publish(journey("Split", "", `{"id": "ab", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
		{"id": "ea", "kind": "exit", "config": {}}, {"id": "eb", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "ab"}, {"from": "ab", "port": "a", "to": "ea"}, {"from": "ab", "port": "b", "to": "eb"}`))
	for i := 0; i < 4; i++ {
		r := h.enter(split, p, worker.EntryEvent{})
		require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
		steps, err := h.st.ListRunSteps(h.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, steps, 3)
		hash := fnv.New32a()
		_, _ = hash.Write([]byte(r.ID + "/ab"))
		bucket := int(hash.Sum32() % 100)
		require.EqualValues(t, bucket, steps[1].Detail["bucket"], "the bucket is the run's own, as a task would draw it")
		want := "a"
		if bucket >= 50 {
			want = "b"
		}
		require.Equal(t, want, steps[1].Port)
	}
	require.Zero(t, h.queue.len())

	// An entry that names its run id (attribute triggers do) is walked
	// with that id.
	en, err := h.eng.PrepareEntry(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: split, ProfileID: p.ID, RunID: "run-fixed"})
	require.NoError(t, err)
	require.Equal(t, "run-fixed", en.Run.ID)
	hash := fnv.New32a()
	_, _ = hash.Write([]byte("run-fixed/ab"))
	require.EqualValues(t, int(hash.Sum32()%100), en.Steps[1].Detail["bucket"])
}
