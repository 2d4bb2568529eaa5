package uitest

import (
	"context"
	"sync"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// taskRecorder takes the engine's tasks in HTTP tests: they check what the
// API committed and scheduled, not how workers run it (worker's tests do).
type TaskRecorder struct {
	Mu    sync.Mutex
	Tasks []*asynq.Task
}

func (r *TaskRecorder) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	r.Tasks = append(r.Tasks, t)
	return &asynq.TaskInfo{}, nil
}

// drain runs the recorded tasks through the engine until none are left.
func (b *Bundle) Drain(eng *worker.Engine) {
	for i := 0; i < 100; i++ {
		b.Tasks.Mu.Lock()
		ts := b.Tasks.Tasks
		b.Tasks.Tasks = nil
		b.Tasks.Mu.Unlock()
		if len(ts) == 0 {
			return
		}
		for _, t := range ts {
			_ = eng.ProcessTask(context.Background(), t)
		}
	}
}

type SandboxOnly struct{}

type SandboxConn struct{}

func (b *Bundle) NewEngine(reg *nodes.Registry) *worker.Engine {
	b.Tasks = &TaskRecorder{}
	b.Engine = worker.NewEngine(worker.EngineConfig{Store: b.Store, Registry: reg, Connectors: SandboxOnly{}, Enqueuer: b.Tasks,
		Segments: segments.New(b.Store, segments.Options{})}) // in_segment, as serve wires it
	return b.Engine
}

func (b *Bundle) NewHooks() *hooks.Service {
	keys, err := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return hooks.New(b.Store, keys, "http://waymark.test", nil)
}

func (SandboxOnly) Resolve(_ context.Context, _, name string) (connectors.Connector, error) {
	if name != "sandbox" {
		return nil, store.ErrNotFound
	}
	return SandboxConn{}, nil
}

func (SandboxConn) Send(context.Context, connectors.Message) (connectors.Result, error) {
	return connectors.Result{Status: "delivered"}, nil
}
