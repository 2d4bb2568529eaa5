package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const savedSegmentJourney = `{"format": 1, "name": "Pros", "settings": {"reentry": "after_exit"}, "nodes": [
	{"id": "start", "kind": "trigger_segment", "config": {"segment": "pros", "sweep": "1h"}},
	{"id": "bye", "kind": "exit"}],
	"edges": [{"from": "start", "to": "bye"}]}`

// A segment trigger that names a saved segment enters the profiles that
// start matching the segment's current definition, on a profile change
// and on a sweep; a changed definition applies from the next evaluation.
func TestSegmentTriggerNamesASavedSegment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := store.DefaultWorkspaceID
	svc := segments.New(h.st, segments.Options{Now: h.clock.Now})
	r, err := segments.ParseRules(`{"match":"all","rules":[{"attribute":"plan","type":"string","op":"is","value":"pro"},{"consent":"email","op":"granted"}]}`)
	require.NoError(t, err)
	seg, err := svc.Create(h.ctx, ws, "test", segments.Input{Name: "pros", Rules: &r})
	require.NoError(t, err)

	jid := h.publish([]byte(savedSegmentJourney))
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Segments: svc})

	p := h.profile("u1", map[string]any{"plan": "pro"})
	runs, err := tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Empty(t, runs, "pro without email consent: not in the segment")

	p, err = h.st.SetProfileConsent(h.ctx, p.ID, "email", "granted", "test")
	require.NoError(t, err)
	runs, err = tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Len(t, runs, 1, "consent granted: enters")

	// The segment changes: "team" instead of "pro". A profile already
	// stored enters on the next sweep, without a change of its own.
	team := h.profile("u2", map[string]any{"plan": "team"})
	_, err = h.st.SetProfileConsent(h.ctx, team.ID, "email", "granted", "test")
	require.NoError(t, err)
	r.Rules[0].Value = "team"
	_, err = svc.Update(h.ctx, ws, seg.ID, segments.Input{Name: "pros", Rules: &r})
	require.NoError(t, err)
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 2, countRuns(t, h, jid), "u2 enters on the sweep by the new definition")

	// The default matcher (no Segments given) reads the same store.
	tr2 := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{})
	p3 := h.profile("u3", map[string]any{"plan": "team"})
	p3, err = h.st.SetProfileConsent(h.ctx, p3.ID, "email", "granted", "test")
	require.NoError(t, err)
	runs, err = tr2.ProfileChanged(h.ctx, p3)
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestSegmentTriggerNeedsExprOrSegment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct{ config, field string }{
		{`{"expr": "true", "segment": "pros"}`, "segment"},
		{`{}`, "expr"},
		{`{"segment": "Not A Name"}`, "segment"},
	} {
		doc := `{"format": 1, "name": "X", "nodes": [{"id": "start", "kind": "trigger_segment", "config": ` + tc.config + `},
			{"id": "bye", "kind": "exit"}], "edges": [{"from": "start", "to": "bye"}]}`
		_, _, err := h.svc.Create(h.ctx, store.DefaultWorkspaceID, []byte(doc), "test", journeys.SaveOptions{})
		var inv *journeys.InvalidError
		require.ErrorAs(t, err, &inv, tc.config)
		require.Equal(t, "start", inv.Problems[0].NodeID, tc.config)
		require.Equal(t, tc.field, inv.Problems[0].Field, tc.config)
	}
}

// A condition's in_segment reads the saved segment's current definition
// through the engine (EngineConfig.Segments = the segments service), the
// profile's history and consent included.
func TestInSegmentWithSavedSegments(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ws := store.DefaultWorkspaceID
	svc := segments.New(h.st, segments.Options{Now: h.clock.Now})
	_, err := svc.Create(h.ctx, ws, "test", segments.Input{Name: "buyers", Expr: `count("purchase") >= 1`})
	require.NoError(t, err)
	r, err := segments.ParseRules(`{"match":"all","rules":[{"segment":"buyers","op":"in"},{"consent":"email","op":"granted"}]}`)
	require.NoError(t, err)
	_, err = svc.Create(h.ctx, ws, "test", segments.Input{Name: "reachable_buyers", Rules: &r})
	require.NoError(t, err)
	h.cfg.Segments = svc
	h.eng = worker.NewEngine(h.cfg)
	jid := h.publish(journey("Check", "", `{"id": "check", "kind": "condition", "config": {"expr": "in_segment(\"reachable_buyers\")"}},
		{"id": "done", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "done"}, {"from": "check", "port": "no", "to": "done"}`))

	buyer := h.profile("buyer", nil)
	h.pastEvent(buyer, "purchase", time.Hour, nil)
	_, err = h.st.SetProfileConsent(h.ctx, buyer.ID, "email", "granted", "test")
	require.NoError(t, err)
	silent := h.profile("silent", nil)
	h.pastEvent(silent, "purchase", time.Hour, nil)
	browser := h.profile("browser", nil)
	_, err = h.st.SetProfileConsent(h.ctx, browser.ID, "email", "granted", "test")
	require.NoError(t, err)

	runs := map[string]store.Run{}
	for _, p := range []store.Profile{buyer, silent, browser} {
		runs[p.ExternalID] = h.enter(jid, p, worker.EntryEvent{})
	}
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "done::completed"}, h.path(runs["buyer"].ID))
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(runs["silent"].ID), "no email consent")
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(runs["browser"].ID), "never bought")
}
