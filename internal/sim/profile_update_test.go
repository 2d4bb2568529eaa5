package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/store"
)

// The simulator runs update_profile as production does: built-in fields
// are the profile's own (a delay after the node waits in the new time
// zone), and a bad value leaves through failed with the reason.
func TestSimulateUpdateProfileBuiltins(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format": 1, "name": "Move", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "moved"}},
		{"id": "set", "kind": "update_profile", "config": {"assignments": [{"attribute": "timezone", "expr": "event.properties.tz"}]}},
		{"id": "nine", "kind": "delay", "config": {"mode": "until_time", "time": "09:00"}},
		{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}}],
		"edges": [{"from": "start", "to": "set"}, {"from": "set", "to": "nine"}, {"from": "nine", "to": "hi"}]}`)
	profiles := []sim.ProfileInput{{ExternalID: "ada", Email: "ada@example.com", Timezone: "Europe/Paris"}}

	res := simulate(t, doc, sim.Request{Profiles: profiles, Entry: sim.Entry{Properties: map[string]any{"tz": "Asia/Tokyo"}}})
	ada := timeline(t, res, "ada")
	require.Equal(t, "Asia/Tokyo", ada.Timezone)
	require.NotContains(t, ada.Attributes, "timezone")
	run := ada.Runs[0]
	require.Equal(t, store.RunCompleted, run.Status)
	// 10:00 UTC is 19:00 in Tokyo: 09:00 there is 00:00 UTC the next day.
	require.Equal(t, monday.Add(14*time.Hour), run.Messages[0].At)

	res = simulate(t, doc, sim.Request{Profiles: profiles, Entry: sim.Entry{Properties: map[string]any{"tz": "Mars/Olympus"}}})
	ada = timeline(t, res, "ada")
	run = ada.Runs[0]
	require.Equal(t, store.RunFailed, run.Status)
	require.Contains(t, run.Error, `timezone: "Mars/Olympus" is not an IANA time zone`)
	require.Equal(t, []string{"start:out:entered", "set:failed:failed"}, path(run))
	require.Equal(t, "Europe/Paris", ada.Timezone)
}

// Profiles enter an attribute trigger on the request's change, matched as
// production matches it.
func TestSimulateAttributeTrigger(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format": 1, "name": "Upgrade", "nodes": [
		{"id": "up", "kind": "trigger_attribute", "config": {"attribute": "plan", "from": "trial", "to": "pro"}},
		{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "{{ change.old }} to {{ change.new }}", "body": "<p>Hi</p>"}}],
		"edges": [{"from": "up", "to": "hi"}]}`)
	profiles := []sim.ProfileInput{{ExternalID: "ada", Email: "ada@example.com", Attributes: map[string]any{"plan": "trial"}}}

	res := simulate(t, doc, sim.Request{Profiles: profiles, Entry: sim.Entry{Change: &sim.EntryChange{Old: "trial", New: "pro"}}})
	ada := timeline(t, res, "ada")
	require.Equal(t, "pro", ada.Attributes["plan"], "the change is written to the simulated profile")
	require.Len(t, ada.Runs, 1)
	require.Equal(t, "trial to pro", ada.Runs[0].Messages[0].Subject)

	res = simulate(t, doc, sim.Request{Profiles: profiles})
	ada = timeline(t, res, "ada")
	require.Empty(t, ada.Runs)
	require.Equal(t, `the change of plan from nothing to "trial" does not match the trigger`, ada.NotEntered)

	s := sim.New(sim.Config{Registry: registry(t)})
	_, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, testdata(t, "welcome_series.json"),
		sim.Request{Profiles: profiles, Entry: sim.Entry{Change: &sim.EntryChange{New: "pro"}}})
	var ie *sim.InputError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "entry.change", ie.Problems[0].Field)

	tz := []byte(`{"format": 1, "name": "Tz", "nodes": [{"id": "t", "kind": "trigger_attribute", "config": {"attribute": "timezone"}}, {"id": "x", "kind": "exit"}],
		"edges": [{"from": "t", "to": "x"}]}`)
	_, err = s.Simulate(context.Background(), store.DefaultWorkspaceID, tz, sim.Request{Profiles: profiles, Entry: sim.Entry{Change: &sim.EntryChange{New: "Mars/Olympus"}}})
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "entry.change.new", ie.Problems[0].Field)
	require.Contains(t, ie.Problems[0].Message, "not an IANA time zone")
}
