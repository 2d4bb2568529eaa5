package worker_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// TestCorruptEntryEventFailsTheRun: a run whose stored entry event does not
// decode fails at the first step a task takes, saying why, instead of
// walking with an empty event in its place (before, it sent "Hi " and
// completed). The entry walked the trigger step with the event it had;
// the stored one is spoilt afterwards.
func TestCorruptEntryEventFailsTheRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish([]byte(`{"format": 1, "name": "Entry", "settings": {"reentry": "always"},
	  "nodes": [
	    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi {{ run.entry.properties.plan }}", "body": "<p>x</p>"}}
	  ],
	  "edges": [{"from": "start", "to": "hello"}]}`))
	p := h.profile("corrupt", nil, "email", "c@example.com")

	en, err := h.eng.PrepareEntry(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: p.ID,
		Event: worker.EntryEvent{Name: "signup", Properties: map[string]any{"plan": "pro"}}})
	require.NoError(t, err)
	// Valid JSON (PostgreSQL's jsonb would refuse anything else) that is
	// not an event: occurred_at is not a time.
	en.Run.EntryEvent = json.RawMessage(`{"name": "signup", "occurred_at": "yesterday"}`)
	_, err = h.st.EnterRun(h.ctx, en.Run, en.Policy, en.First, en.Steps...)
	require.NoError(t, err)
	h.eng.Dispatch(h.ctx, en)
	h.drain()

	run := h.run(en.Run.ID)
	require.Equal(t, store.RunFailed, run.Status)
	require.Equal(t, "hello", run.CurrentNode)
	require.Contains(t, run.Error, "entry event does not decode")
	require.Contains(t, run.Error, "yesterday", "the reason names what is wrong")
	require.Empty(t, h.inbox.sent(), "nothing was sent")

	// A sound run of the same journey is untouched.
	ok := h.enter(jid, p, worker.EntryEvent{Name: "signup", Properties: map[string]any{"plan": "pro"}})
	h.drain()
	require.Equal(t, store.RunCompleted, h.run(ok.ID).Status)
	require.Len(t, h.inbox.sent(), 1)
	require.Equal(t, "Hi pro", h.inbox.sent()[0].Subject)
}
