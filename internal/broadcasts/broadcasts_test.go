package broadcasts_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
)

type exits struct{ journeys []string }

func (e *exits) ExitRuns(_ context.Context, journeyID, _ string) (int, error) {
	e.journeys = append(e.journeys, journeyID)
	return 0, nil
}

func setup(t *testing.T, url string) (*broadcasts.Service, *store.Store, *exits, *time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st, err := store.Open(ctx, url, store.Options{Now: clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	ex := &exits{}
	return broadcasts.New(st, journeys.New(st, reg), ex).WithClock(func() time.Time { return now }), st, ex, &now
}

func email(name string) broadcasts.Input {
	return broadcasts.Input{Name: name, Audience: "true", Channel: "email", Connector: "sandbox", Subject: "Hi", HTML: "<p>Hi</p>"}
}

// TestDocument: the journey a broadcast runs is a once schedule with the
// audience, one send step of the channel, re-entry never and the policy
// in its settings.
func TestDocument(t *testing.T) {
	t.Parallel()
	in := email("June")
	in.Audience = `profile.plan == "pro"`
	in.Text = "Hi"
	in.QuietHours = &broadcasts.QuietHours{Start: "21:00", End: "08:00"}
	in.FrequencyCap = &broadcasts.FrequencyCap{Count: 2, Period: "week"}
	in.Timezone = "Europe/Paris"
	at := time.Date(2026, 6, 2, 8, 0, 0, 0, time.UTC)
	b, err := broadcasts.Document(in, at)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, "Broadcast: June", doc["name"])
	settings := doc["settings"].(map[string]any)
	require.Equal(t, "never", settings["reentry"])
	require.Equal(t, "Europe/Paris", settings["timezone"])
	require.Equal(t, map[string]any{"start": "21:00", "end": "08:00"}, settings["quiet_hours"])
	require.Equal(t, map[string]any{"email": map[string]any{"count": 2.0, "period": "week"}}, settings["frequency_cap"])
	ns := doc["nodes"].([]any)
	trig, send := ns[0].(map[string]any), ns[1].(map[string]any)
	require.Equal(t, "trigger_schedule", trig["kind"])
	require.Equal(t, map[string]any{"mode": "once", "at": "2026-06-02T08:00:00Z", "expr": `profile.plan == "pro"`}, trig["config"])
	require.Equal(t, "send_email", send["kind"])
	require.Equal(t, map[string]any{"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>", "text": "Hi"}, send["config"])

	sms := broadcasts.Input{Name: "S", Audience: "true", Channel: "sms", Connector: "twilio", Text: "Yo"}
	b, err = broadcasts.Document(sms, at)
	require.NoError(t, err)
	require.Contains(t, string(b), `"kind":"send_sms"`)
	require.Contains(t, string(b), `"body":"Yo"`)
}

func TestCreateAndCancel(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return testenv.SQLiteURL(t) }, "postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			svc, st, ex, now := setup(t, url(t))
			ctx := context.Background()
			later := now.Add(2 * time.Hour)
			in := email("Later")
			in.ScheduledAt = &later
			b, err := svc.Create(ctx, store.DefaultWorkspaceID, in, "ada")
			require.NoError(t, err)
			require.Equal(t, store.BroadcastScheduled, b.Status)
			require.Equal(t, later, b.ScheduledAt)
			j, err := st.GetJourney(ctx, store.DefaultWorkspaceID, b.JourneyID)
			require.NoError(t, err)
			require.Equal(t, store.JourneyLive, j.Status, "its journey is published")
			require.Equal(t, 1, j.LiveVersion)
			js, _, err := st.ListJourneys(ctx, store.DefaultWorkspaceID, store.JourneyFilter{})
			require.NoError(t, err)
			require.Empty(t, js, "the journeys list leaves broadcasts' journeys out")
			js, _, err = st.ListJourneys(ctx, store.DefaultWorkspaceID, store.JourneyFilter{Status: store.JourneyLive})
			require.NoError(t, err)
			require.Len(t, js, 1, "the trigger loop finds it")

			got, err := svc.Get(ctx, store.DefaultWorkspaceID, b.ID)
			require.NoError(t, err)
			require.Equal(t, store.BroadcastScheduled, got.Status, "before its time")
			*now = later
			got, err = svc.Get(ctx, store.DefaultWorkspaceID, b.ID)
			require.NoError(t, err)
			require.Equal(t, store.BroadcastSending, got.Status, "its time has come")

			got, err = svc.Cancel(ctx, store.DefaultWorkspaceID, b.ID, "bob")
			require.NoError(t, err)
			require.Equal(t, store.BroadcastCancelled, got.Status)
			require.Equal(t, "bob", got.CancelledBy)
			require.NotNil(t, got.FinishedAt)
			require.Equal(t, []string{b.JourneyID}, ex.journeys, "its runs are ended")
			j, err = st.GetJourney(ctx, store.DefaultWorkspaceID, b.JourneyID)
			require.NoError(t, err)
			require.Equal(t, store.JourneyPaused, j.Status)
			_, err = svc.Cancel(ctx, store.DefaultWorkspaceID, b.ID, "bob")
			require.ErrorIs(t, err, broadcasts.ErrEnded)
			_, err = svc.Cancel(ctx, "other", b.ID, "bob")
			require.ErrorIs(t, err, store.ErrNotFound, "another workspace's broadcast is not found")

			// Sending now: scheduled at the creation time.
			b, err = svc.Create(ctx, store.DefaultWorkspaceID, email("Now"), "ada")
			require.NoError(t, err)
			require.Equal(t, *now, b.ScheduledAt)
			list, next, err := svc.List(ctx, store.DefaultWorkspaceID, "", 1)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, "Now", list[0].Name, "newest first")
			require.NotEmpty(t, next)
		})
	}
}

func TestCreateRefusesNamingTheField(t *testing.T) {
	t.Parallel()
	svc, st, _, now := setup(t, testenv.SQLiteURL(t))
	ctx := context.Background()
	past := now.Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		change func(in *broadcasts.Input)
		fields []string
	}{
		{"nothing", func(in *broadcasts.Input) { *in = broadcasts.Input{} }, []string{"name", "audience", "channel", "connector"}},
		{"audience", func(in *broadcasts.Input) { in.Audience = "profile.plan ==" }, []string{"audience"}},
		{"unknown connector", func(in *broadcasts.Input) { in.Connector = "nope" }, []string{"connector"}},
		{"email parts", func(in *broadcasts.Input) { in.Subject, in.HTML = "", "" }, []string{"subject", "html"}},
		{"sms with email parts", func(in *broadcasts.Input) { in.Channel, in.Text = "sms", "hi" }, []string{"subject", "html"}},
		{"past", func(in *broadcasts.Input) { in.ScheduledAt = &past }, []string{"scheduled_at"}},
		{"quiet hours", func(in *broadcasts.Input) { in.QuietHours = &broadcasts.QuietHours{Start: "08:00", End: "08:00"} }, []string{"quiet_hours.end"}},
		{"cap", func(in *broadcasts.Input) { in.FrequencyCap = &broadcasts.FrequencyCap{Count: 1, Period: "month"} }, []string{"frequency_cap.period"}},
		{"timezone", func(in *broadcasts.Input) { in.Timezone = "Nowhere/Land" }, []string{"timezone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := email("x")
			tc.change(&in)
			_, err := svc.Create(ctx, store.DefaultWorkspaceID, in, "ada")
			var inv *broadcasts.InvalidError
			require.True(t, errors.As(err, &inv), "%v", err)
			var fields []string
			for _, p := range inv.Problems {
				fields = append(fields, p.Field)
			}
			require.Equal(t, tc.fields, fields)
		})
	}
	bs, _, err := st.ListBroadcasts(ctx, store.DefaultWorkspaceID, "", 10)
	require.NoError(t, err)
	require.Empty(t, bs)
	js, _, err := st.ListJourneys(ctx, store.DefaultWorkspaceID, store.JourneyFilter{Status: "all"})
	require.NoError(t, err)
	require.Empty(t, js, "a refused broadcast leaves no journey behind")
}
