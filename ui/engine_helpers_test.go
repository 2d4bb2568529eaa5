package ui_test

import (
	"context"
	"sync"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// taskRecorder takes the engine's tasks in HTTP tests: they check what the
// API committed and scheduled, not how workers run it (worker's tests do).
type taskRecorder struct {
	mu    sync.Mutex
	tasks []*asynq.Task
}

func (r *taskRecorder) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks = append(r.tasks, t)
	return &asynq.TaskInfo{}, nil
}

// drain runs the recorded tasks through the engine until none are left.
func (b *testBundle) drain(eng *worker.Engine) {
	for i := 0; i < 100; i++ {
		b.tasks.mu.Lock()
		ts := b.tasks.tasks
		b.tasks.tasks = nil
		b.tasks.mu.Unlock()
		if len(ts) == 0 {
			return
		}
		for _, t := range ts {
			_ = eng.ProcessTask(context.Background(), t)
		}
	}
}

type sandboxOnly struct{}

func (sandboxOnly) Resolve(_ context.Context, _, name string) (connectors.Connector, error) {
	if name != "sandbox" {
		return nil, store.ErrNotFound
	}
	return sandboxConn{}, nil
}

type sandboxConn struct{}

func (sandboxConn) Send(context.Context, connectors.Message) (connectors.Result, error) {
	return connectors.Result{Status: "delivered"}, nil
}

func (b *testBundle) newEngine(reg *nodes.Registry) *worker.Engine {
	b.tasks = &taskRecorder{}
	b.engine = worker.NewEngine(worker.EngineConfig{Store: b.store, Registry: reg, Connectors: sandboxOnly{}, Enqueuer: b.tasks})
	return b.engine
}

func (b *testBundle) newHooks() *hooks.Service {
	keys, err := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return hooks.New(b.store, keys, "http://waymark.test", nil)
}
