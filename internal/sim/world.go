package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// world is one simulation's private universe: an in-memory database, a
// virtual clock, a time-ordered task queue standing in for Asynq, and an
// inbox standing in for every connector. The real worker.Engine runs in it;
// nothing in it can reach the real database or a real channel.
type world struct {
	st     *store.Store
	clock  *vclock
	queue  *taskQueue
	inbox  *inbox
	eng    *worker.Engine
	ws     string
	logger *slog.Logger
	t0     time.Time // the virtual start

	journeyID string
	version   int
	compiled  *flows.Compiled

	tasks    int // tasks and events processed
	maxTasks int
	// done, if set, ends the run early (replay: the run has finished).
	done func(context.Context) (bool, error)
}

// newWorld opens a private in-memory SQLite database, migrated like the
// embedded mode's, with the workspace the simulation runs in.
func newWorld(ctx context.Context, reg *nodes.Registry, workspaceID string, start time.Time, sup worker.Suppressions, logger *slog.Logger) (*world, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &vclock{t: start.UTC()}
	// The store keeps one SQLite connection, and each connection to
	// ":memory:" is a database of its own: private to this simulation,
	// gone when it closes.
	st, err := store.Open(ctx, "sqlite::memory:", store.Options{Now: c.Now})
	if err != nil {
		return nil, fmt.Errorf("opening the simulation database: %w", err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("preparing the simulation database: %w", err)
	}
	if _, err := st.EnsureWorkspace(ctx, workspaceID, "Simulation"); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("preparing the simulation database: %w", err)
	}
	w := &world{st: st, clock: c, queue: newTaskQueue(), inbox: &inbox{}, ws: workspaceID, logger: logger, t0: c.t}
	w.eng = worker.NewEngine(worker.EngineConfig{
		Store: st, Registry: reg, Connectors: w.inbox, Suppressions: sup, Enqueuer: w, Now: c.Now, After: w.after,
		Logger: logger,
	})
	return w, nil
}

func (w *world) close() { _ = w.st.Close() }

// publish stores doc as the simulated journey's one published version.
func (w *world) publish(ctx context.Context, reg *nodes.Registry, doc []byte) error {
	j, err := flows.Parse(doc)
	if err != nil {
		return err
	}
	c, problems := flows.Compile(reg, j, flows.ValidateOptions{})
	if len(problems) > 0 {
		return &InvalidError{Problems: problems}
	}
	canonical, err := flows.Marshal(j)
	if err != nil {
		return err
	}
	name := j.Name
	if strings.TrimSpace(name) == "" {
		name = "Simulation"
	}
	sj, err := w.st.CreateJourney(ctx, store.Journey{WorkspaceID: w.ws, Name: name, Draft: canonical, CreatedBy: "simulator"})
	if err != nil {
		return err
	}
	v, err := w.st.PublishJourney(ctx, w.ws, sj.ID, canonical, "simulator")
	if err != nil {
		return err
	}
	w.journeyID, w.version, w.compiled = sj.ID, v.Version, c
	return nil
}

// EnqueueContext is the engine's Enqueuer: tasks go to the simulation's
// queue, de-duplicated by id while pending, as Asynq does.
func (w *world) EnqueueContext(_ context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	at := w.clock.Now()
	id := ""
	for _, o := range opts {
		switch o.Type() {
		case asynq.TaskIDOpt:
			id = o.Value().(string)
		case asynq.ProcessAtOpt:
			at = o.Value().(time.Time)
		}
	}
	if !w.queue.push(item{at: at, id: id, task: t}) {
		return nil, asynq.ErrTaskIDConflict
	}
	return &asynq.TaskInfo{ID: id}, nil
}

// after is the engine's timer on the virtual clock.
func (w *world) after(d time.Duration, f func()) {
	w.queue.push(item{at: w.clock.Now().Add(d), fn: func(context.Context) error { f(); return nil }})
}

// at schedules fn at a virtual time.
func (w *world) at(t time.Time, fn func(context.Context) error) {
	w.queue.push(item{at: t, fn: fn})
}

// errBudget stops a simulation that does too much work.
var errBudget = errors.New("the simulation's step budget is exhausted")

// run processes queued work in time order until the queue is empty or the
// next item lies past the horizon; it returns the time it stopped at.
func (w *world) run(ctx context.Context, horizon time.Time) error {
	retries := map[string]int{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, ok := w.queue.pop(horizon)
		if !ok {
			return nil
		}
		if it.at.After(w.clock.Now()) {
			w.clock.Set(it.at.UTC())
		}
		w.tasks++
		if w.maxTasks > 0 && w.tasks > w.maxTasks {
			return errBudget
		}
		if it.fn != nil {
			if err := it.fn(ctx); err != nil {
				return err
			}
		} else {
			err := w.eng.ProcessAttempt(ctx, it.task, retries[it.id], simMaxRetry)
			w.queue.done(it.id)
			if err != nil && !errors.Is(err, asynq.SkipRetry) && !errors.Is(err, asynq.RevokeTask) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// As Asynq would: try again later; the last attempt fails
				// the run visibly.
				retries[it.id]++
				it.at = w.clock.Now().Add(time.Minute)
				w.queue.push(it)
			}
		}
		if w.done != nil {
			if ok, err := w.done(ctx); err != nil || ok {
				return err
			}
		}
	}
}

// simMaxRetry is the retry limit of a simulated task: nothing in the
// simulation fails transiently except the private database itself.
const simMaxRetry = 3

// vclock is the virtual clock.
type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vclock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// item is a queued task (from the engine) or a function (scripted events,
// entries, the engine's timers).
type item struct {
	at   time.Time
	seq  uint64
	id   string
	task *asynq.Task
	fn   func(context.Context) error
}

// taskQueue orders items by time, then by arrival.
type taskQueue struct {
	mu      sync.Mutex
	h       itemHeap
	seq     uint64
	pending map[string]bool // task ids queued or running
}

func newTaskQueue() *taskQueue { return &taskQueue{pending: map[string]bool{}} }

func (q *taskQueue) push(it item) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it.id != "" && it.task != nil {
		if q.pending[it.id] {
			return false
		}
		q.pending[it.id] = true
	}
	q.seq++
	it.seq = q.seq
	heap.Push(&q.h, it)
	return true
}

// pop removes the earliest item due at or before limit.
func (q *taskQueue) pop(limit time.Time) (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.h) == 0 || q.h[0].at.After(limit) {
		return item{}, false
	}
	return heap.Pop(&q.h).(item), true
}

func (q *taskQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

func (q *taskQueue) done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pending, id)
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	*h = old[:n-1]
	return it
}

// inbox resolves every connector name to a recorder: the rendered message
// goes to the simulation's own inbox and nowhere else.
type inbox struct {
	mu       sync.Mutex
	messages []sentMessage
	// outcomes, when set (replay), says what a step's send should answer.
	outcomes func(m connectors.Message) error
}

type sentMessage struct {
	connector string
	msg       connectors.Message
}

func (in *inbox) Resolve(_ context.Context, _, name string) (connectors.Connector, error) {
	return recorder{in: in, name: name}, nil
}

type recorder struct {
	in   *inbox
	name string
}

func (r recorder) Send(_ context.Context, m connectors.Message) (connectors.Result, error) {
	if r.in.outcomes != nil {
		if err := r.in.outcomes(m); err != nil {
			return connectors.Result{}, err
		}
	}
	r.in.mu.Lock()
	defer r.in.mu.Unlock()
	r.in.messages = append(r.in.messages, sentMessage{connector: r.name, msg: m})
	return connectors.Result{Status: store.DeliveryDelivered, ProviderID: "sim-" + m.DeliveryID}, nil
}

// IdempotentSends: a recorder never sends anything twice for one key.
func (r recorder) IdempotentSends() bool { return true }

func (in *inbox) all() []sentMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]sentMessage(nil), in.messages...)
}
