package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
)

// The history functions read the simulation's own events at its virtual
// clock: a purchase scripted after the condition runs is not counted yet.
func TestSimulateHistoryCondition(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format":1,"name":"Loyal buyers","settings":{"reentry":"never"},
	  "nodes":[{"id":"start","kind":"trigger_event","config":{"event":"signed_up"}},
	    {"id":"wait","kind":"delay","config":{"duration":"3d"}},
	    {"id":"loyal","kind":"condition","config":{"expr":"count(\"purchase\", within(\"30d\")) >= 2"}},
	    {"id":"thanks","kind":"send_email","config":{"connector":"sandbox",
	      "subject":"{{ count(\"purchase\") }} orders, {{ sum(\"purchase\", \"total\", within(\"7d\")) }} spent, last {{ last(\"purchase\").properties.total }}","body":"x"}},
	    {"id":"done","kind":"exit","config":{}}],
	  "edges":[{"from":"start","to":"wait"},{"from":"wait","to":"loyal"},{"from":"loyal","port":"yes","to":"thanks"},
	    {"from":"loyal","port":"no","to":"done"},{"from":"thanks","to":"done"}]}`)
	res := simulate(t, doc, sim.Request{
		Profiles: []sim.ProfileInput{{ExternalID: "ann", Email: "ann@example.com"}, {ExternalID: "bob", Email: "bob@example.com"}},
		Events: []sim.ScriptedEvent{
			{Profile: "ann", Name: "purchase", Properties: map[string]any{"total": 20.0}, After: "1d"},
			{Profile: "ann", Name: "purchase", Properties: map[string]any{"total": 15.0}, After: "2d"},
			{Profile: "bob", Name: "purchase", Properties: map[string]any{"total": 20.0}, After: "1d"},
			{Profile: "bob", Name: "purchase", Properties: map[string]any{"total": 99.0}, After: "4d"}, // after the condition
		},
	})
	ann := timeline(t, res, "ann")
	require.Len(t, ann.Runs, 1)
	require.Equal(t, []string{"start:out:entered", "wait:out:waited", "loyal:yes:ok", "thanks:out:sent", "done::completed"}, path(ann.Runs[0]))
	require.Equal(t, "2 orders, 35 spent, last 15", ann.Runs[0].Messages[0].Subject)
	bob := timeline(t, res, "bob")
	require.Len(t, bob.Runs, 1)
	require.Equal(t, []string{"start:out:entered", "wait:out:waited", "loyal:no:ok", "done::completed"}, path(bob.Runs[0]))
}

// A segment trigger's condition reads history too (here: none yet, at
// the start), and in_segment says saved segments are not simulated.
func TestSimulateHistoryInSegmentTrigger(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"format":1,"name":"New people","settings":{"reentry":"never"},
	  "nodes":[{"id":"seg","kind":"trigger_segment","config":{"expr":"first_seen == nil && count(\"purchase\") == 0"}},
	    {"id":"vip","kind":"condition","config":{"expr":"in_segment(\"vip\")"}},
	    {"id":"done","kind":"exit","config":{}}],
	  "edges":[{"from":"seg","to":"vip"},{"from":"vip","port":"yes","to":"done"},{"from":"vip","port":"no","to":"done"}]}`)
	res := simulate(t, doc, sim.Request{Profiles: []sim.ProfileInput{{ExternalID: "new", Email: "new@example.com"}}})
	require.Equal(t, 1, res.Entered)
	run := timeline(t, res, "new").Runs[0]
	require.Equal(t, []string{"seg:out:entered", "vip:no:ok", "done::completed"}, path(run))
	require.Contains(t, run.Steps[1].Detail["error"], "saved segments are not available here")
}
