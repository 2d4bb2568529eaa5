package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// clock is the virtual clock the engine runs on in these tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// taskQueue stands in for Asynq in the deterministic tests: it keeps tasks
// by id (rejecting a duplicate id while the task exists, as Asynq does) and
// hands out those due on the virtual clock.
type taskQueue struct {
	mu      sync.Mutex
	retries map[string]int // failed attempts per task id
	clock   *clock
	tasks   map[string]queued
	active  map[string]bool // ids being processed: Asynq keeps them reserved
	// refuse, when set, fails the enqueue of the ids it returns true for
	// (Redis unreachable at that moment).
	refuse func(id string) bool
}

type queued struct {
	id      string
	payload []byte
	at      time.Time
}

func (q *taskQueue) EnqueueContext(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := queued{payload: t.Payload(), at: q.clock.Now()}
	for _, o := range opts {
		switch o.Type() {
		case asynq.TaskIDOpt:
			it.id = o.Value().(string)
		case asynq.ProcessAtOpt:
			it.at = o.Value().(time.Time)
		}
	}
	if q.refuse != nil && q.refuse(it.id) {
		return nil, errors.New("redis: connection refused")
	}
	if _, ok := q.tasks[it.id]; ok || q.active[it.id] {
		return nil, asynq.ErrTaskIDConflict
	}
	q.tasks[it.id] = it
	return &asynq.TaskInfo{ID: it.id}, nil
}

// due removes and returns the tasks due now, earliest first.
func (q *taskQueue) due() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	var out []queued
	for id, it := range q.tasks {
		if !it.at.After(now) {
			out = append(out, it)
			delete(q.tasks, id)
			q.active[id] = true
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].at.Before(out[j].at) || out[i].at.Equal(out[j].at) && out[i].id < out[j].id
	})
	return out
}

func (q *taskQueue) done(id string) { q.mu.Lock(); defer q.mu.Unlock(); delete(q.active, id) }

func (q *taskQueue) len() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.tasks) }

// inbox is a connector resolver whose connectors speak to the test: they
// record every message and fail when told to.
type inbox struct {
	mu       sync.Mutex
	messages []connectors.Message
	failures []error // returned by the next sends, in order
	calls    int
}

func (in *inbox) Resolve(_ context.Context, _, name string) (connectors.Connector, error) {
	if name != "sandbox" {
		return nil, fmt.Errorf("connector %q: %w", name, store.ErrNotFound)
	}
	return in, nil
}

func (in *inbox) Send(_ context.Context, m connectors.Message) (connectors.Result, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	if len(in.failures) > 0 {
		err := in.failures[0]
		in.failures = in.failures[1:]
		if err != nil {
			return connectors.Result{}, err
		}
	}
	in.messages = append(in.messages, m)
	return connectors.Result{Status: "delivered", ProviderID: "p-" + m.DeliveryID}, nil
}

func (in *inbox) fail(errs ...error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.failures = append(in.failures, errs...)
}

func (in *inbox) sent() []connectors.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]connectors.Message(nil), in.messages...)
}

// timers stands in for time.AfterFunc on the virtual clock.
type timers struct {
	mu    sync.Mutex
	clock *clock
	list  []timer
}

type timer struct {
	at time.Time
	f  func()
}

func (ts *timers) After(d time.Duration, f func()) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.list = append(ts.list, timer{at: ts.clock.Now().Add(d), f: f})
}

// fire runs the timers that are due and reports how many.
func (ts *timers) fire() int {
	ts.mu.Lock()
	var due []timer
	keep := ts.list[:0]
	for _, t := range ts.list {
		if !t.at.After(ts.clock.Now()) {
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	ts.list = keep
	ts.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

type harness struct {
	cfg    worker.EngineConfig
	timers *timers
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	svc    *journeys.Service
	eng    *worker.Engine
	clock  *clock
	queue  *taskQueue
	inbox  *inbox
}

func registry(t *testing.T) *nodes.Registry {
	t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	return reg
}

func openStore(t *testing.T, url string, now func() time.Time) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	return st
}

// newHarness runs the engine on a virtual clock against a real database
// (SQLite file), driving tasks by hand instead of through Redis.
func newHarness(t *testing.T) *harness {
	t.Helper()
	c := &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)} // a Monday
	st := openStore(t, testenv.SQLiteURL(t), c.Now)
	reg := registry(t)
	h := &harness{t: t, ctx: context.Background(), st: st, svc: journeys.New(st, reg), clock: c,
		queue: &taskQueue{clock: c, tasks: map[string]queued{}, active: map[string]bool{}, retries: map[string]int{}}, inbox: &inbox{}}
	h.timers = &timers{clock: c}
	h.cfg = worker.EngineConfig{
		Store: st, Registry: reg, Connectors: h.inbox, Enqueuer: h.queue, Now: c.Now, After: h.timers.After,
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	h.eng = worker.NewEngine(h.cfg)
	return h
}

// setLimiter rebuilds the engine with a journey rate limiter.
func (h *harness) setLimiter(l worker.RateLimiter) {
	h.cfg.RateLimiter = l
	h.eng = worker.NewEngine(h.cfg)
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "flows", "testdata", name))
	require.NoError(t, err)
	return b
}

// publish creates and publishes a journey document and returns its id.
func (h *harness) publish(doc []byte) string {
	h.t.Helper()
	j, _, err := h.svc.Create(h.ctx, store.DefaultWorkspaceID, doc, "test", journeys.SaveOptions{})
	require.NoError(h.t, err)
	_, err = h.svc.Publish(h.ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(h.t, err)
	return j.ID
}

func (h *harness) profile(ext string, attrs map[string]any, fields ...string) store.Profile {
	h.t.Helper()
	u := store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: ext, Attributes: attrs}
	for i := 0; i+1 < len(fields); i += 2 {
		v := fields[i+1]
		switch fields[i] {
		case "email":
			u.Email = &v
		case "phone":
			u.Phone = &v
		case "timezone":
			u.Timezone = &v
		}
	}
	p, _, err := h.st.UpsertProfile(h.ctx, u)
	require.NoError(h.t, err)
	return p
}

func (h *harness) enter(journeyID string, p store.Profile, ev worker.EntryEvent) store.Run {
	h.t.Helper()
	r, err := h.eng.Enter(h.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: journeyID, ProfileID: p.ID, Event: ev})
	require.NoError(h.t, err)
	return r
}

// drain runs every task due on the virtual clock, including the ones they
// schedule for now, and returns how many ran. Task errors are returned to
// the queue as Asynq would retry them (here: immediately on the next drain).
func (h *harness) drain() int {
	h.t.Helper()
	ran := 0
	for i := 0; i < 10000; i++ {
		h.timers.fire()
		due := h.queue.due()
		if len(due) == 0 {
			return ran
		}
		for _, it := range due {
			h.queue.mu.Lock()
			retried := h.queue.retries[it.id]
			h.queue.mu.Unlock()
			err := h.eng.ProcessAttempt(h.ctx, asynq.NewTask(worker.TaskAdvance, it.payload), retried, maxRetry)
			h.queue.done(it.id)
			ran++
			if err != nil && !errors.Is(err, asynq.SkipRetry) && !errors.Is(err, asynq.RevokeTask) {
				h.queue.mu.Lock()
				h.queue.retries[it.id]++
				h.queue.mu.Unlock()
				h.t.Logf("task %s failed (retried on the next drain): %v", it.id, err)
				it.at = h.clock.Now()
				h.queue.mu.Lock()
				h.queue.tasks[it.id] = it
				h.queue.mu.Unlock()
				return ran
			}
		}
	}
	h.t.Fatal("tasks keep scheduling tasks: a loop?")
	return ran
}

// advance moves the virtual clock and runs what falls due.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Add(d)
	h.drain()
}

func (h *harness) event(p store.Profile, name string, props map[string]any) worker.EventResult {
	h.t.Helper()
	ev, err := h.st.InsertEvent(h.ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: name, Properties: props, OccurredAt: h.clock.Now()})
	require.NoError(h.t, err)
	res, err := h.eng.HandleEvent(h.ctx, ev)
	require.NoError(h.t, err)
	h.drain()
	return res
}

func (h *harness) run(id string) store.Run {
	h.t.Helper()
	r, err := h.st.GetRun(h.ctx, id)
	require.NoError(h.t, err)
	return r
}

// path is the run's ledger as node:port strings.
func (h *harness) path(runID string) []string {
	h.t.Helper()
	steps, err := h.st.ListRunSteps(h.ctx, runID)
	require.NoError(h.t, err)
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.NodeID + ":" + s.Port
		if s.Outcome != "ok" {
			out[i] += ":" + s.Outcome
		}
	}
	return out
}

func (h *harness) deliveries(runID string) []store.Delivery {
	h.t.Helper()
	ds, _, err := h.st.ListDeliveries(h.ctx, store.DefaultWorkspaceID, store.DeliveryFilter{RunID: runID, Limit: 500})
	require.NoError(h.t, err)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Sequence < ds[j].Sequence })
	return ds
}

// maxRetry is the retry limit the harness gives tasks (as Asynq would).
const maxRetry = 5

func taskFor(payload []byte) *asynq.Task { return asynq.NewTask(worker.TaskAdvance, payload) }
