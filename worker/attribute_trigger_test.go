package worker_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// attributeJourney starts on a change of attribute (config: the trigger's
// other fields) and records the change it entered on.
func attributeJourney(name, settings, config string, rest ...string) []byte {
	if settings == "" {
		settings = `{"reentry": "always"}`
	}
	nodes, edges := `{"id": "note", "kind": "update_profile", "config": {"assignments": [
		{"attribute": "seen_`+name+`", "expr": "change.attribute + \":\" + string(change.old) + \">\" + string(change.new) + \":\" + event.properties.source"}]}}`,
		`{"from": "start", "to": "note"}`
	if len(rest) == 2 {
		nodes, edges = rest[0], rest[1]
	}
	return []byte(fmt.Sprintf(`{"format": 1, "name": %q, "settings": %s, "nodes": [
		{"id": "start", "kind": "trigger_attribute", "config": %s}, %s], "edges": [%s]}`, name, settings, config, nodes, edges))
}

func TestAttributeTriggerFromTo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	upgrade := h.publish(attributeJourney("upgrade", "", `{"attribute": "plan", "from": "trial", "to": "pro"}`))
	anyPlan := h.publish(attributeJourney("any", "", `{"attribute": "plan"}`))
	up := h.publish(attributeJourney("up", "", `{"attribute": "score", "expr": "change.old != nil && change.new > change.old"}`))
	tz := h.publish(attributeJourney("tz", "", `{"attribute": "timezone", "to": "Asia/Tokyo"}`))
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{})
	write := func(attrs map[string]any, fields ...string) []string {
		t.Helper()
		runs, err := tr.ProfileChanged(h.ctx, h.profile("ada", attrs, fields...))
		require.NoError(t, err)
		h.drain()
		return runs
	}

	require.Len(t, write(map[string]any{"plan": "trial", "score": 1}), 1, "created: plan changed from nothing (any); score had no old value")
	require.Equal(t, 1, countRuns(t, h, anyPlan))
	require.Empty(t, write(map[string]any{"plan": "trial", "score": 1}), "same values: no change")
	require.Len(t, write(map[string]any{"plan": "pro", "score": 5}), 3, "trial→pro: upgrade, any; 1→5: up")
	require.Equal(t, 1, countRuns(t, h, upgrade))
	require.Equal(t, 1, countRuns(t, h, up))
	require.Len(t, write(map[string]any{"score": 2}), 0, "5→2: not up")
	require.Len(t, write(map[string]any{"plan": nil}), 1, "removed: any")
	require.Equal(t, 0, countRuns(t, h, tz))
	require.Len(t, write(nil, "timezone", "Asia/Tokyo"), 1, "a built-in field")
	require.Equal(t, 1, countRuns(t, h, tz))

	p, err := h.st.GetProfileByExternalID(h.ctx, store.DefaultWorkspaceID, "ada")
	require.NoError(t, err)
	require.Equal(t, "plan:trial>pro:", p.Attributes["seen_upgrade"], "the run sees change.old, change.new and the source in event.properties")
	require.Equal(t, "timezone:<nil>>Asia/Tokyo:", p.Attributes["seen_tz"])
	pending, err := h.st.ListProfileChanges(h.ctx, p.ID, 100)
	require.NoError(t, err)
	require.Empty(t, pending, "handled changes are deleted")
}

// A change made by update_profile enters other journeys' attribute and
// segment triggers at once, never its own journey; a chain of journeys
// entering each other stops after worker.MaxChangeDepth links.
func TestUpdateProfileTriggersOtherJourneys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{}) // wired to the engine as cmd wires it
	setter := h.publish(journey("Setter", "", `{"id": "set", "kind": "update_profile", "config": {"assignments": [{"attribute": "plan", "expr": "\"pro\""}]}}`,
		`{"from": "start", "to": "set"}`))
	watcher := h.publish(attributeJourney("watcher", "", `{"attribute": "plan", "to": "pro"}`))
	segment := h.publish([]byte(planJourney))
	// A journey that changes the attribute it is triggered by: it must not
	// enter itself again.
	self := h.publish(attributeJourney("self", "", `{"attribute": "plan"}`,
		`{"id": "bump", "kind": "update_profile", "config": {"assignments": [{"attribute": "plan", "expr": "profile.plan + \"+\""}]}}`,
		`{"from": "start", "to": "bump"}`))

	p := h.profile("bo", nil)
	h.enter(setter, p, worker.EntryEvent{})
	h.drain()
	require.Equal(t, 1, countRuns(t, h, watcher), "update_profile in another journey enters the attribute trigger")
	require.Equal(t, 1, countRuns(t, h, segment), "and the segment trigger, without a sweep")
	require.Equal(t, 1, countRuns(t, h, self), "entered by the setter's change; its own change does not enter it again")
	got, err := h.st.GetProfile(h.ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "pro+", got.Attributes["plan"])

	// Ping-pong: a flips x when y changes, b flips y when x changes.
	h2 := newHarness(t)
	worker.NewTriggers(h2.eng, h2.st, nil, worker.TriggersConfig{})
	flip := func(name, on, set string) []byte {
		return attributeJourney(name, "", `{"attribute": "`+on+`"}`,
			`{"id": "flip", "kind": "update_profile", "config": {"assignments": [{"attribute": "`+set+`", "expr": "(profile.`+set+` ?? 0) + 1"}]}}`,
			`{"from": "start", "to": "flip"}`)
	}
	a := h2.publish(flip("a", "y", "x"))
	b := h2.publish(flip("b", "x", "y"))
	q := h2.profile("q", map[string]any{"y": 0})
	tr := worker.NewTriggers(h2.eng, h2.st, nil, worker.TriggersConfig{})
	_, err = tr.ProfileChanged(h2.ctx, q)
	require.NoError(t, err)
	h2.drain()
	// Depth 0 (the write) enters a; a's change (1) enters b; … the change
	// of depth MaxChangeDepth+1 enters nothing.
	total := countRuns(t, h2, a) + countRuns(t, h2, b)
	require.Equal(t, worker.MaxChangeDepth+1, total)
}

// A change whose writer stopped before handing it over is entered by the
// leader's pass after the grace period, once.
func TestAttributeChangeLeftBehindIsEntered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(attributeJourney("late", "", `{"attribute": "plan"}`))
	seg := h.publish([]byte(planJourney))
	h.profile("late", map[string]any{"plan": "pro"}) // written; the writer "crashed" before ProfileChanged
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{})
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 0, countRuns(t, h, jid), "within the grace period the writer's own call is awaited")
	h.clock.Add(worker.ChangeGrace)
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 1, countRuns(t, h, jid))
	require.Equal(t, 1, countRuns(t, h, seg), "segment entry too (here also by its sweep)")
	h.clock.Add(worker.ChangeGrace)
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 1, countRuns(t, h, jid), "handled once")
}

// On PostgreSQL and real Redis: many processes handling the same changes
// at once enter each journey once per change, and a change made by
// update_profile in a worker enters another journey whose run the worker
// then completes.
func TestAttributeTriggerOnPostgresAndRedis(t *testing.T) {
	s := newLiveStack(t, testenv.PostgresURL(t))
	publish := func(doc []byte) string {
		j, _, err := s.svc.Create(s.ctx, store.DefaultWorkspaceID, doc, "t", journeys.SaveOptions{})
		require.NoError(t, err)
		_, err = s.svc.Publish(s.ctx, store.DefaultWorkspaceID, j.ID, "t")
		require.NoError(t, err)
		return j.ID
	}
	watcher := publish(attributeJourney("watcher", "", `{"attribute": "plan", "to": "pro"}`,
		`{"id": "hi", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Welcome to pro", "body": "<p>pro</p>"}}`,
		`{"from": "start", "to": "hi"}`))
	setter := publish(journey("Setter", "", `{"id": "set", "kind": "update_profile", "config": {"assignments": [{"attribute": "plan", "expr": "\"pro\""}]}}`,
		`{"from": "start", "to": "set"}`))

	// Ten profiles change; four "processes" handle them all at once.
	const n = 10
	var ps []store.Profile
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("c%d@example.com", i)
		p, _, err := s.st.UpsertProfile(s.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("c", i),
			Email: &email, Attributes: map[string]any{"plan": "pro"}, Source: "api"})
		require.NoError(t, err)
		ps = append(ps, p)
	}
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		tr := worker.NewTriggers(s.eng, s.st, nil, worker.TriggersConfig{ChangeGrace: time.Nanosecond})
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, p := range ps {
				_, err := tr.ProfileChanged(s.ctx, p)
				require.NoError(t, err)
			}
		}()
		go func() { defer wg.Done(); require.NoError(t, tr.RunOnce(s.ctx)) }()
	}
	wg.Wait()
	require.Equal(t, n, s.countRuns(watcher, ""), "one entry per change")

	// update_profile on the worker: the change enters the watcher at once.
	worker.NewTriggers(s.eng, s.st, nil, worker.TriggersConfig{})
	s.startWorker()
	email := "setter@example.com"
	p, _, err := s.st.UpsertProfile(s.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "setter", Email: &email})
	require.NoError(t, err)
	_, err = s.eng.Enter(s.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: setter, ProfileID: p.ID})
	require.NoError(t, err)
	s.waitFor("the watcher's run for the setter's change", 30*time.Second, func() bool {
		runs, _, err := s.st.ListRuns(s.ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: watcher, Status: store.RunCompleted, Limit: 100})
		require.NoError(t, err)
		for _, r := range runs {
			if r.ProfileID == p.ID {
				var entry map[string]any
				require.NoError(t, json.Unmarshal(r.EntryEvent, &entry))
				require.Equal(t, "journey", entry["properties"].(map[string]any)["source"])
				return true
			}
		}
		return false
	})
}
