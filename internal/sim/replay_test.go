package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

const replayDoc = `{"format":1,"name":"Replay","settings":{"reentry":"always","timezone":"UTC"},
 "nodes":[
  {"id":"t","kind":"trigger_event","config":{"event":"signup"}},
  {"id":"ab","kind":"split","config":{"variants":[{"name":"a","weight":50},{"name":"b","weight":50}]}},
  {"id":"is_fr","kind":"condition","config":{"expr":"profile.country == \"FR\""}},
  {"id":"fr","kind":"send_email","config":{"connector":"sandbox","subject":"Bonjour","body":"x"}},
  {"id":"en","kind":"send_email","config":{"connector":"sandbox","subject":"Hello","body":"x"}},
  {"id":"wait","kind":"wait_event","config":{"event":"purchase","timeout":"2d"}},
  {"id":"thanks","kind":"send_email","config":{"connector":"sandbox","subject":"Thanks","body":"x"}},
  {"id":"end","kind":"exit"}],
 "edges":[{"from":"t","to":"ab"},{"from":"ab","port":"a","to":"is_fr"},{"from":"ab","port":"b","to":"is_fr"},
  {"from":"is_fr","port":"yes","to":"fr"},{"from":"is_fr","port":"no","to":"en"},
  {"from":"fr","to":"wait"},{"from":"en","to":"wait"},
  {"from":"wait","port":"matched","to":"thanks"},{"from":"wait","port":"timeout","to":"end"}]}`

// TestReplay records runs with the real engine, then replays them: against
// their own version nothing differs; against a version whose condition
// changed, exactly the run that would now branch the other way is reported.
func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

	// The "real" database: a world of its own, run to the end.
	real, err := newWorld(ctx, reg, store.DefaultWorkspaceID, start, nil, nil)
	require.NoError(t, err)
	defer real.close()
	require.NoError(t, real.publish(ctx, reg, []byte(replayDoc)))
	var sps []*simProfile
	for _, p := range []ProfileInput{
		{ExternalID: "fr", Email: "fr@example.com", Attributes: map[string]any{"country": "FR"}},
		{ExternalID: "us", Email: "us@example.com", Attributes: map[string]any{"country": "US"}},
	} {
		sp, probs := sampleProfile(p, "")
		require.Empty(t, probs)
		require.NoError(t, real.addProfile(ctx, sp))
		sps = append(sps, sp)
		real.at(start, func(ctx context.Context) error {
			_, err := real.enter(ctx, real.compiled.Triggers[0], Entry{}, sp)
			return err
		})
	}
	real.at(start.Add(24*time.Hour), func(ctx context.Context) error {
		return real.event(ctx, sps[0], "purchase", nil, start.Add(24*time.Hour))
	})
	require.NoError(t, real.run(ctx, start.Add(30*24*time.Hour)))
	runs, _, err := real.st.ListRuns(ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: real.journeyID})
	require.NoError(t, err)
	require.Len(t, runs, 2)

	s := New(Config{Registry: reg})
	rep, err := s.Replay(ctx, real.st, store.DefaultWorkspaceID, ReplayOptions{JourneyID: real.journeyID})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Checked)
	require.Zero(t, rep.Differ, "%+v", rep.Runs)
	require.Zero(t, rep.Skipped)

	// Version 2 changes the condition: the French profile would now get
	// the English email. The purchase still matches its wait.
	v2 := strings.Replace(replayDoc, `profile.country == \"FR\"`, `profile.country == \"DE\"`, 1)
	_, err = real.st.PublishJourney(ctx, store.DefaultWorkspaceID, real.journeyID, []byte(v2), "test")
	require.NoError(t, err)
	rep, err = s.Replay(ctx, real.st, store.DefaultWorkspaceID, ReplayOptions{JourneyID: real.journeyID, Version: 2})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Checked)
	require.Equal(t, 1, rep.Differ, "%+v", rep.Runs)
	d := rep.Runs[0]
	require.Equal(t, "fr", d.ProfileID)
	require.Equal(t, "version 2", d.Against)
	require.Equal(t, 2, d.Step)
	require.Equal(t, "is_fr:yes:ok", d.Recorded[2])
	require.Equal(t, "is_fr:no:ok", d.Replayed[2])
	require.Equal(t, "wait:matched:matched", d.Replayed[4], "the recorded purchase is replayed at its time")
	require.Equal(t, d.Recorded[1], d.Replayed[1], "the split is sticky per run id")

	// The same through a document.
	rep, err = s.Replay(ctx, real.st, store.DefaultWorkspaceID, ReplayOptions{JourneyID: real.journeyID, Document: []byte(v2)})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Differ)
	require.Equal(t, "document", rep.Runs[0].Against)
}

func TestSimulationsAreBounded(t *testing.T) {
	t.Parallel()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	lim := DefaultLimits
	lim.Concurrent, lim.BusyWait = 1, time.Millisecond
	s := New(Config{Registry: reg, Limits: lim})
	release, err := s.acquire(context.Background())
	require.NoError(t, err)
	req := Request{Profiles: []ProfileInput{{ExternalID: "x"}}}
	_, err = s.Simulate(context.Background(), store.DefaultWorkspaceID, []byte(replayDoc), req)
	require.ErrorIs(t, err, ErrBusy)
	release()
	res, err := s.Simulate(context.Background(), store.DefaultWorkspaceID, []byte(replayDoc), req)
	require.NoError(t, err)
	require.Equal(t, 1, res.Entered)
}
