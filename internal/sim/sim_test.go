package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

// monday is the virtual start of the tests: Monday 1 June 2026, 10:00 UTC.
var monday = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func registry(t *testing.T) *nodes.Registry {
	t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	return reg
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "flows", "testdata", name))
	require.NoError(t, err)
	return b
}

func simulate(t *testing.T, doc []byte, req sim.Request) *sim.Result {
	t.Helper()
	if req.Start.IsZero() {
		req.Start = monday
	}
	s := sim.New(sim.Config{Registry: registry(t)})
	res, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, doc, req)
	require.NoError(t, err)
	return res
}

// path is a run's steps as node:port:outcome strings.
func path(r sim.RunResult) []string {
	out := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		out[i] = s.NodeID + ":" + s.Port + ":" + s.Outcome
	}
	return out
}

func timeline(t *testing.T, res *sim.Result, ext string) sim.ProfileTimeline {
	t.Helper()
	for _, tl := range res.Timelines {
		if tl.ExternalID == ext {
			return tl
		}
	}
	t.Fatalf("no timeline for %q", ext)
	return sim.ProfileTimeline{}
}

func TestSimulateWelcomeSeries(t *testing.T) {
	t.Parallel()
	res := simulate(t, testdata(t, "welcome_series.json"), sim.Request{
		Profiles: []sim.ProfileInput{
			{ExternalID: "ada", Email: "ada@example.com", Timezone: "Europe/Paris", Attributes: map[string]any{"first_name": "Ada", "country": "FR"}},
			{ExternalID: "bob", Email: "bob@example.com", Attributes: map[string]any{"first_name": "Bob"}},
		},
		Entry:  sim.Entry{Body: map[string]any{"plan": "pro"}},
		Events: []sim.ScriptedEvent{{Profile: "bob", Name: "subscription_started", Properties: map[string]any{"amount": 49.0}, After: "1d"}},
	})
	require.Equal(t, "done", res.Stopped)
	ada := timeline(t, res, "ada")
	require.Len(t, ada.Runs, 1)
	require.Equal(t, []string{"start:out:entered", "welcome:out:sent", "wait_2d:out:waited", "is_fr:yes:ok", "tips_fr:out:sent",
		"wait_morning:out:waited", "converted:out:ok", "nudge:out:sent", "done::completed"}, path(ada.Runs[0]))
	require.Equal(t, store.RunCompleted, ada.Runs[0].Status)
	msgs := ada.Runs[0].Messages
	require.Len(t, msgs, 3)
	require.Equal(t, "welcome", msgs[0].NodeID)
	require.Equal(t, "ada@example.com", msgs[0].To)
	require.Equal(t, "Welcome to Waymark, Ada!", msgs[0].Subject)
	require.Contains(t, msgs[0].Body, "Thanks for signing up on pro.")
	require.Equal(t, "3 astuces pour bien démarrer", msgs[1].Subject)
	cond := ada.Runs[0].Steps[3]
	require.Equal(t, true, cond.Detail["value"])
	require.Contains(t, cond.Expr, "profile.country")
	require.Contains(t, cond.Summary, "is true → yes")
	require.Equal(t, "2d", cond.Offset)
	// Next weekday 09:00 in Paris after Wednesday noon is Thursday 07:00 UTC.
	require.Equal(t, time.Date(2026, 6, 4, 7, 0, 0, 0, time.UTC), ada.Runs[0].Steps[5].At)

	bob := timeline(t, res, "bob")
	require.Equal(t, store.RunExited, bob.Runs[0].Status)
	require.Contains(t, strings.Join(path(bob.Runs[0]), " "), "converted::converted")
	require.NotContains(t, strings.Join(path(bob.Runs[0]), " "), "nudge")
	require.Equal(t, 5, res.Messages)
	require.Equal(t, 2, res.Entered)
}
