package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/store"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// The simulator runs offline: no WAYMARK_DATABASE_URL, nothing written.
func TestJourneysSimulate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	profiles := writeFile(t, dir, "profiles.json", `[
	  {"external_id": "ada", "email": "ada@example.com", "timezone": "Europe/Paris", "attributes": {"first_name": "Ada", "country": "FR"}},
	  {"external_id": "bob", "email": "bob@example.com", "attributes": {"first_name": "Bob"}}]`)
	events := writeFile(t, dir, "events.json", `[{"profile": "bob", "name": "subscription_started", "properties": {"amount": 49}, "after": "1d"}]`)
	vars := map[string]string{"WAYMARK_DATA_DIR": filepath.Join(dir, "data")}
	r := runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/welcome_series.json", "--profiles", profiles, "--events", events,
		"--start", "2026-06-01T10:00:00Z")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "2 entered, 5 message(s) rendered, none sent")
	require.Contains(t, r.stdout, "✉ send_email via sandbox to ada@example.com: Welcome to Waymark, Ada!")
	require.Contains(t, r.stdout, `profile.country == "FR" is true → yes`)
	require.Contains(t, r.stdout, "converted: the goal was met, the run exits")
	_, err := os.Stat(filepath.Join(dir, "data"))
	require.True(t, os.IsNotExist(err), "no database was created")

	r = runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/welcome_series.json", "--profiles", profiles, "--events", events,
		"--start", "2026-06-01T10:00:00Z", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var res sim.Result
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res))
	require.Equal(t, 5, res.Messages)
	require.Len(t, res.Paths, 2)

	// A request file with a cohort.
	req := writeFile(t, dir, "cohort.json", `{"cohort": {"size": 30, "seed": 1}, "horizon": "1h"}`)
	r = runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/reengagement.json", "--profiles", req)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "for 30 profile(s)")

	// Bad input: one line per problem, exit 1; unreadable files exit 2.
	badEvents := writeFile(t, dir, "bad-events.json", `[{"name": "x", "after": "tomorrow"}]`)
	r = runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/welcome_series.json", "--profiles", profiles, "--events", badEvents)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, profiles+": events[0].after: ")
	bad := writeFile(t, dir, "bad.json", `{"format":1,"name":"Bad","nodes":[{"id":"t","kind":"trigger_event","config":{"event":"x"}},
	  {"id":"c","kind":"condition","config":{"expr":"profile.age >"}}],"edges":[{"from":"t","to":"c"}]}`)
	r = runCLI(t, vars, "", "journeys", "simulate", bad, "--profiles", profiles)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, bad+`: node "c": expr: `)
	r = runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/welcome_series.json", "--profiles", filepath.Join(dir, "missing.json"))
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "cannot read")
	r = runCLI(t, vars, "", "journeys", "simulate", "../../flows/testdata/welcome_series.json")
	require.Equal(t, 2, r.code, "--profiles is required")
}

// TestJourneysReplay records two runs of a journey in the database, one of
// which took a decision the journey no longer takes, and replays them.
func TestJourneysReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vars := map[string]string{"WAYMARK_DATA_DIR": dir}
	doc := `{"format":1,"name":"Country","settings":{"reentry":"always"},
	 "nodes":[{"id":"t","kind":"trigger_event","config":{"event":"signup"}},
	  {"id":"is_fr","kind":"condition","config":{"expr":"profile.country == \"FR\""}},
	  {"id":"fr","kind":"send_email","config":{"connector":"sandbox","subject":"Bonjour","body":"x"}}],
	 "edges":[{"from":"t","to":"is_fr"},{"from":"is_fr","port":"yes","to":"fr"}]}`

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "waymark.db"), store.Options{})
	require.NoError(t, err)
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	j, err := st.CreateJourney(ctx, store.Journey{WorkspaceID: store.DefaultWorkspaceID, Name: "Country", Draft: []byte(doc), CreatedBy: "test"})
	require.NoError(t, err)
	_, err = st.PublishJourney(ctx, store.DefaultWorkspaceID, j.ID, []byte(doc), "test")
	require.NoError(t, err)
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	record := func(ext, country string, steps ...string) {
		email := ext + "@example.com"
		p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: ext, Email: &email, Attributes: map[string]any{"country": country}})
		require.NoError(t, err)
		r, err := st.EnterRun(ctx, store.Run{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, Version: 1, ProfileID: p.ID, CurrentNode: "t",
			EntryEvent: []byte(`{"name":"signup","occurred_at":"2026-05-01T09:00:00Z"}`), EnteredAt: at},
			store.EntryPolicy{Reentry: "always"}, store.OutboxItem{TaskType: "run:advance", Queue: "default", ProcessAt: at})
		require.NoError(t, err)
		var ledger []store.RunStep
		for i, s := range steps {
			f := strings.Split(s, ":")
			ledger = append(ledger, store.RunStep{Sequence: i + 1, NodeID: f[0], Kind: map[string]string{"t": "trigger_event", "is_fr": "condition", "fr": "send_email"}[f[0]],
				Port: f[1], Outcome: f[2], StartedAt: at, FinishedAt: at})
		}
		require.NoError(t, st.AdvanceRun(ctx, store.RunUpdate{RunID: r.ID, JourneyID: j.ID, ProfileID: p.ID, ExpectSequence: 1, Status: store.RunCompleted,
			CurrentNode: ledger[len(ledger)-1].NodeID, Sequence: len(ledger) + 1, Steps: len(ledger), Finished: true, Ledger: ledger}))
	}
	record("anne", "FR", "t:out:entered", "is_fr:yes:ok", "fr:out:sent")
	record("uwe", "DE", "t:out:entered", "is_fr:no:ok")
	require.NoError(t, st.Close())

	r := runCLI(t, vars, "", "journeys", "replay", "--journey", j.ID)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "2 run(s) replayed, 0 differ, 0 skipped")

	// A change that sends Germans down "yes" is reported, with exit 1.
	changed := writeFile(t, t.TempDir(), "changed.json", strings.Replace(doc, `profile.country == \"FR\"`, `profile.country in [\"FR\", \"DE\"]`, 1))
	r = runCLI(t, vars, "", "journeys", "replay", "--journey", j.ID, "--against", changed)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "2 run(s) replayed, 1 differ, 0 skipped")
	require.Contains(t, r.stdout, "profile uwe) against document, from step 2:")
	require.Contains(t, r.stdout, "replayed: t:out:entered → is_fr:yes:ok → fr:out:sent")
	require.Contains(t, r.stderr, "1 run(s) would take different decisions")

	r = runCLI(t, vars, "", "journeys", "replay", "--journey", j.ID, "--against", changed, "--json")
	require.Equal(t, 1, r.code)
	var rep sim.ReplayReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Equal(t, 1, rep.Differ)

	r = runCLI(t, vars, "", "journeys", "replay", "--version", "2")
	require.Equal(t, 2, r.code, "--version needs --journey")
	r = runCLI(t, vars, "", "journeys", "replay", "--journey", j.ID, "--version", "9")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no such journey or version")
}
