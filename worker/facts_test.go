package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// countingStore is the real store, counting the history lookups that
// reach it.
type countingStore struct {
	*store.Store
	lookups atomic.Int64
}

func (c *countingStore) CountProfileEvents(ctx context.Context, profileID, name string, since, until time.Time, limit int) (int, error) {
	c.lookups.Add(1)
	return c.Store.CountProfileEvents(ctx, profileID, name, since, until, limit)
}

func (c *countingStore) SumProfileEvents(ctx context.Context, profileID, name, property string, since, until time.Time, limit int) (float64, error) {
	c.lookups.Add(1)
	return c.Store.SumProfileEvents(ctx, profileID, name, property, since, until, limit)
}

func (c *countingStore) LastProfileEvent(ctx context.Context, profileID, name string, until time.Time) (store.Event, error) {
	c.lookups.Add(1)
	return c.Store.LastProfileEvent(ctx, profileID, name, until)
}

func (c *countingStore) ProfileSeen(ctx context.Context, profileID string, until time.Time, first bool) (time.Time, error) {
	c.lookups.Add(1)
	return c.Store.ProfileSeen(ctx, profileID, until, first)
}

func (h *harness) pastEvent(p store.Profile, name string, ago time.Duration, props map[string]any) {
	h.t.Helper()
	_, err := h.st.InsertEvent(h.ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: name, Properties: props,
		OccurredAt: h.clock.Now().Add(-ago)})
	require.NoError(h.t, err)
}

// A condition on the profile's history routes a real run: two purchases
// in the last 30 days take yes (and the template reads the history too),
// one takes no; a purchase 40 days ago is outside the window.
func TestHistoryConditionRoutesRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	counting := &countingStore{Store: h.st}
	h.cfg.Store = counting
	h.eng = worker.NewEngine(h.cfg)
	day := 24 * time.Hour
	jid := h.publish(journey("Loyal", "",
		`{"id": "check", "kind": "condition", "config": {"expr": "count(\"purchase\", within(\"30d\")) >= 2"}},
		{"id": "mail", "kind": "send_email", "config": {"connector": "sandbox",
			"subject": "{{ count(\"purchase\", within(\"30d\")) }} orders, {{ sum(\"purchase\", \"total\", within(\"90d\")) }} spent, last {{ last(\"purchase\").properties.total }}",
			"body": "<p>Thanks</p>"}},
		{"id": "done", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}, {"from": "check", "port": "no", "to": "done"},
		 {"from": "mail", "to": "done"}`))

	loyal := h.profile("loyal", nil, "email", "loyal@example.com")
	h.pastEvent(loyal, "purchase", 3*day, map[string]any{"total": 20.0})
	h.pastEvent(loyal, "purchase", 12*day, map[string]any{"total": 30.0})
	h.pastEvent(loyal, "purchase", 40*day, map[string]any{"total": 50.0})
	once := h.profile("once", nil, "email", "once@example.com")
	h.pastEvent(once, "purchase", 3*day, map[string]any{"total": 20.0})
	h.pastEvent(once, "purchase", 40*day, map[string]any{"total": 50.0})
	h.pastEvent(once, "view", 1*day, nil)

	r1 := h.enter(jid, loyal, worker.EntryEvent{})
	r2 := h.enter(jid, once, worker.EntryEvent{})
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "mail:out:sent", "done::completed"}, h.path(r1.ID))
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(r2.ID))
	sent := h.inbox.sent()
	require.Len(t, sent, 1)
	require.Equal(t, "loyal@example.com", sent[0].Email)
	require.Equal(t, "2 orders, 100 spent, last 20", sent[0].Subject)
	require.Positive(t, counting.lookups.Load())
}

// fakeSegments speaks SegmentMatcher the way saved segments do: each
// segment is an expression evaluated against the environment it is given.
type fakeSegments struct {
	mu    sync.Mutex
	exprs map[string]string
	seen  []int // the Facts depth of each Match
}

func (s *fakeSegments) Match(ctx context.Context, workspaceID, name string, env *expression.Env) (bool, error) {
	s.mu.Lock()
	src := s.exprs[name]
	if f, ok := env.Facts.(*worker.Facts); ok {
		s.seen = append(s.seen, f.Depth())
	}
	s.mu.Unlock()
	if src == "" {
		return false, store.ErrNotFound
	}
	p, err := expression.Compile(src, expression.Bool)
	if err != nil {
		return false, err
	}
	return p.EvalBool(env)
}

func TestInSegment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	segs := &fakeSegments{exprs: map[string]string{
		"buyers": `count("purchase") >= 1`,
		"vip":    `in_segment("buyers") && profile.plan == "pro"`,
		"loop":   `in_segment("loop")`,
	}}
	h.cfg.Segments = segs
	h.eng = worker.NewEngine(h.cfg)
	doc := func(name, expr string) []byte {
		return journey(name, "", `{"id": "check", "kind": "condition", "config": {"expr": `+quote(expr)+`}},
			{"id": "done", "kind": "exit", "config": {}}`,
			`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "done"}, {"from": "check", "port": "no", "to": "done"}`)
	}
	vip := h.publish(doc("VIP", `in_segment("vip")`))
	loop := h.publish(doc("Loop", `in_segment("loop")`))

	pro := h.profile("pro", map[string]any{"plan": "pro"})
	h.pastEvent(pro, "purchase", time.Hour, nil)
	free := h.profile("free", map[string]any{"plan": "free"})
	h.pastEvent(free, "purchase", time.Hour, nil)
	newcomer := h.profile("new", map[string]any{"plan": "pro"})

	runs := map[string]store.Run{}
	for _, p := range []store.Profile{pro, free, newcomer} {
		runs[p.ExternalID] = h.enter(vip, p, worker.EntryEvent{})
	}
	looped := h.enter(loop, pro, worker.EntryEvent{})
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:yes", "done::completed"}, h.path(runs["pro"].ID))
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(runs["free"].ID))
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(runs["new"].ID))
	// A segment that contains itself stops at the depth bound, with the
	// reason on the run's timeline.
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(looped.ID))
	steps, err := h.st.ListRunSteps(h.ctx, looped.ID)
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(steps[1].Detail), "saved segments nest more than 4 deep")
	segs.mu.Lock()
	require.Contains(t, segs.seen, worker.MaxSegmentDepth)
	require.NotContains(t, segs.seen, worker.MaxSegmentDepth+1)
	segs.mu.Unlock()
}

func TestInSegmentNotWired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish(journey("VIP", "", `{"id": "check", "kind": "condition", "config": {"expr": "in_segment(\"vip\")"}},
		{"id": "done", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "done"}, {"from": "check", "port": "no", "to": "done"}`))
	r := h.enter(jid, h.profile("p", nil), worker.EntryEvent{})
	h.drain()
	require.Equal(t, []string{"start:out:entered", "check:no", "done::completed"}, h.path(r.ID))
	steps, err := h.st.ListRunSteps(h.ctx, r.ID)
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(steps[1].Detail), "saved segments are not available here")
}

// The same lookup twice in one step asks the store once; a Facts makes
// at most MaxFactsLookups different lookups.
func TestFactsMemoAndCap(t *testing.T) {
	t.Parallel()
	st := &countingStore{Store: openStore(t, testenv.SQLiteURL(t), time.Now)}
	p, _, err := st.UpsertProfile(context.Background(), store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "m"})
	require.NoError(t, err)
	now := time.Now().UTC()
	env := worker.AttachHistory(context.Background(), &expression.Env{Now: now}, st, nil, store.DefaultWorkspaceID, p.ID)
	prog, err := expression.Compile(`count("a", within("30d")) + count("a", within("30d")) + int(sum("a", "x")) + (last("a") == nil ? 0 : 1) + (first_seen == nil ? 0 : 1) + (last_seen == nil ? 0 : 1)`, expression.Any)
	require.NoError(t, err)
	v, err := prog.Eval(env)
	require.NoError(t, err)
	require.Equal(t, 0, v)
	require.EqualValues(t, 5, st.lookups.Load())
	_, err = prog.Eval(env) // the same step again: all answered from memory
	require.NoError(t, err)
	require.EqualValues(t, 5, st.lookups.Load())

	for i := range worker.MaxFactsLookups - 5 {
		_, err := env.Facts.CountEvents("a", now.Add(-time.Duration(i+1)*time.Minute), now, 10)
		require.NoError(t, err)
	}
	_, err = env.Facts.CountEvents("b", now.Add(-time.Hour), now, 10)
	require.ErrorContains(t, err, "more than 64 different history lookups in one step")
	require.EqualValues(t, worker.MaxFactsLookups, st.lookups.Load())

	// Without a store (a place with no history) the functions say so.
	bare := worker.AttachHistory(context.Background(), &expression.Env{Now: now}, nil, nil, "w", "p")
	_, err = prog.Eval(bare)
	require.ErrorIs(t, err, expression.ErrNoHistory)
}

// BenchmarkHistoryCondition evaluates `count("purchase", within("30d"))
// >= 2` for a profile with 200 purchases, a fresh Facts per evaluation
// (one step), and reports the store lookups per evaluation.
func BenchmarkHistoryCondition(b *testing.B) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		b.Run(dialect, func(b *testing.B) {
			url := testenv.SQLiteURL(b)
			if dialect == store.DialectPostgres {
				url = testenv.PostgresURL(b)
			}
			ctx := context.Background()
			raw, err := store.Open(ctx, url, store.Options{})
			require.NoError(b, err)
			b.Cleanup(func() { _ = raw.Close() })
			_, err = raw.Migrate(ctx)
			require.NoError(b, err)
			_, err = raw.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
			require.NoError(b, err)
			st := &countingStore{Store: raw}
			p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "bench"})
			require.NoError(b, err)
			now := time.Now().UTC()
			for i := range 200 {
				_, err := st.InsertEvent(ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: "purchase",
					Properties: map[string]any{"total": 10.0}, OccurredAt: now.Add(-time.Duration(i) * 6 * time.Hour)})
				require.NoError(b, err)
			}
			prog, err := expression.Compile(`count("purchase", within("30d")) >= 2`, expression.Bool)
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				env := worker.AttachHistory(ctx, &expression.Env{Now: now}, st, nil, store.DefaultWorkspaceID, p.ID)
				ok, err := prog.EvalBool(env)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
			b.ReportMetric(float64(st.lookups.Load())/float64(b.N), "queries/op")
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// An event trigger's filter and a wait_event's match read the history
// too: the third purchase in 30 days enters, and the run goes on when a
// second view arrives within the day.
func TestHistoryInTriggerFilterAndWaitMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish([]byte(`{"format": 1, "name": "Third purchase", "settings": {"reentry": "always"}, "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "purchase", "filter": "count(\"purchase\", within(\"30d\")) >= 3"}},
		{"id": "wait", "kind": "wait_event", "config": {"event": "view", "timeout": "3d", "match": "count(\"view\", within(\"1d\")) >= 2"}},
		{"id": "done", "kind": "exit", "config": {}}],
		"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "port": "matched", "to": "done"}, {"from": "wait", "port": "timeout", "to": "done"}]}`))
	p := h.profile("buyer", nil)
	h.pastEvent(p, "purchase", 40*24*time.Hour, nil) // outside the window
	require.Empty(t, h.event(p, "purchase", nil).Entered)
	h.advance(time.Hour)
	require.Empty(t, h.event(p, "purchase", nil).Entered)
	h.advance(time.Hour)
	res := h.event(p, "purchase", nil)
	require.Len(t, res.Entered, 1)
	runID := res.Entered[0]
	h.advance(time.Hour)
	h.event(p, "view", nil)
	require.Equal(t, store.RunWaitingEvent, h.run(runID).Status, "one view today: still waiting")
	h.advance(time.Hour)
	h.event(p, "view", nil)
	require.Equal(t, []string{"start:out:entered", "wait:matched:matched", "done::completed"}, h.path(runID))
	require.Equal(t, jid, h.run(runID).JourneyID)
}
