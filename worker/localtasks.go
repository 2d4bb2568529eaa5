package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/waymarkhq/waymark/store"
)

// First tasks in process (EngineConfig.LocalTasks, on in `waymark serve`,
// where the web server and the worker are one process). An entry whose
// instant steps stop before a node due now (an action, an update_profile…)
// needs a task to take the run on. Instead of a trip through the queue
// (enqueue in the web handler, dequeue and completion in the worker: three
// Redis round trips, three Lua scripts in embedded mode), the entry hands
// the task to a pool of goroutines in its own process, which runs it as an
// attempt of that task: the same Engine.advance an Asynq attempt runs.
//
// The safety net is the one of an inline action (runInline): the entry
// commits the task's outbox item hidden from the relay for sendLease, and
// the run's next_due_at at the same time, so neither the relay nor the
// reconciler gives the step a second task while the local attempt may
// still be running. When the attempt commits, the item is deleted. When it
// fails, the step gets its own task at the delay Asynq would have waited
// for a first retry (a provider's Retry-After included) and retries from
// there exactly as a task does; the local attempt comes on top of the
// task's attempts, as an inline one does. If the process dies, the relay
// gives the step its task once the lease is over, which finds whatever
// the dead attempt committed (a pending delivery: the usual crash rules).
// A full pool, or an engine without one, sends the task through the queue
// at once (and the lease only delays the relay if that enqueue fails too).
//
// The pool's workers take tasks from a buffer (EngineConfig.LocalBuffer,
// by default localBufferPerWorker per worker, a few dozen bytes each), so
// that entries arriving faster than the engine drains them (a burst of
// webhooks) wait in process instead of spilling into the queue, where each
// costs an enqueue, a dequeue and a completion more. A task that waited
// longer than localMaxWait goes through the queue instead of being run
// late: a local attempt starts within 10 s of its entry's commit, so its
// lease (sendLease, 75 s from the entry) still covers the connector's
// 60 s timeout and the commits around it, as for a task run at once. (Were
// a second attempt to start anyway, it would find the first one's pending
// delivery younger than the lease and back off.)

// localTask is a run's step to run in process, and when it was handed in.
type localTask struct {
	runID  string
	seq    int
	queued time.Time
}

// localPool runs first tasks in process.
type localPool struct {
	tasks   chan localTask
	running sync.WaitGroup
}

// localAttemptTimeout bounds a local attempt, as Asynq's task timeout
// does; localShutdownWait is how long a stopping process waits for the
// attempts in flight.
// localBufferPerWorker and localMaxWait size the buffer in front of the
// workers (see above).
const (
	localAttemptTimeout  = 2 * time.Minute
	localShutdownWait    = 10 * time.Second
	localBufferPerWorker = 1024
	localMaxWait         = 10 * time.Second
)

// localEntry reports whether an entry's first task may run in process: the
// pool runs and the task is due now.
func (e *Engine) localEntry(en Entry) bool {
	return e.local.Load() != nil && !en.Run.Final() && !en.First.ProcessAt.After(en.Run.EnteredAt)
}

// localBuffer is the size of the pool's buffer.
func (e *Engine) localBuffer() int {
	if e.cfg.LocalBuffer > 0 {
		return e.cfg.LocalBuffer
	}
	return e.cfg.LocalTasks * localBufferPerWorker
}

// submitLocal hands a committed entry's first task to the pool; false when
// the pool is full or stopped.
func (e *Engine) submitLocal(t localTask) bool {
	p := e.local.Load()
	if p == nil {
		return false
	}
	t.queued = e.now()
	select {
	case p.tasks <- t:
		return true
	default:
		return false
	}
}

// RunLocalTasks runs first tasks in process (EngineConfig.LocalTasks
// workers) until ctx ends, then waits for the attempts in flight (at most
// localShutdownWait) and hands the tasks still queued to the queue. Without it, or with LocalTasks 0,
// every task goes through the queue.
func (e *Engine) RunLocalTasks(ctx context.Context) {
	n := e.cfg.LocalTasks
	if n <= 0 {
		return
	}
	p := &localPool{tasks: make(chan localTask, e.localBuffer())}
	e.local.Store(p)
	for range n {
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-p.tasks:
					e.runLocal(t)
				}
			}
		}()
	}
	<-ctx.Done()
	e.local.Store(nil)
	done := make(chan struct{})
	go func() { p.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(localShutdownWait):
		// An attempt still running when the process exits is a crash:
		// its safety net gives the step its task after the lease.
		e.logger.Warn("stopping with local attempts still running; their steps get their tasks after the send lease")
	}
	for {
		select {
		case t := <-p.tasks:
			e.handLocal(context.Background(), t, 0)
		default:
			return
		}
	}
}

// StartLocalTasks makes the pool without its workers, and RunQueuedLocal
// runs what it queued in the caller's goroutine: tests drive it with them.
func (e *Engine) StartLocalTasks() {
	if e.cfg.LocalTasks > 0 {
		e.local.Store(&localPool{tasks: make(chan localTask, e.localBuffer())})
	}
}

// RunQueuedLocal runs the local tasks queued now and reports how many.
func (e *Engine) RunQueuedLocal() int {
	p := e.local.Load()
	if p == nil {
		return 0
	}
	n := 0
	for {
		select {
		case t := <-p.tasks:
			e.runLocal(t)
			n++
		default:
			return n
		}
	}
}

// runLocal runs one attempt of a first task in process. Its attempt is not
// the task's last: a failure hands the step to its own task. A task that
// waited in the buffer for longer than localMaxWait goes to the queue.
func (e *Engine) runLocal(t localTask) {
	if e.now().Sub(t.queued) > localMaxWait {
		e.handLocal(context.Background(), t, 0)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), localAttemptTimeout)
	defer cancel()
	_, err := e.advance(ctx, t.runID, t.seq)
	if err != nil {
		e.logger.Debug("local attempt failed; retrying in its own task", slog.String("run_id", t.runID), slog.Int("seq", t.seq),
			slog.String("error", err.Error()))
		// The attempt's context may be what ended it (its timeout): the
		// hand-off gets its own, so that it is not lost with it.
		hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer hcancel()
		e.handLocal(hctx, t, RetryDelay(0, err, nil))
		return
	}
	e.forgetOutbox(ctx, store.OutboxItem{RunID: t.runID, Sequence: t.seq, TaskType: TaskAdvance})
}

// handLocal gives a local task to the queue, due after wait. Its safety
// net (the outbox item hidden until the lease) moves to that time first,
// so that a lost enqueue is retried then, not before a provider's
// Retry-After; once enqueued, the net is no longer needed. A task whose
// step was taken on meanwhile finds the run elsewhere and does nothing.
func (e *Engine) handLocal(ctx context.Context, t localTask, wait time.Duration) {
	o := store.OutboxItem{RunID: t.runID, Sequence: t.seq, TaskType: TaskAdvance, Queue: QueueDefault, ProcessAt: e.now().Add(wait)}
	if wait > 0 {
		if err := e.cfg.Store.RescheduleOutbox(ctx, t.runID, t.seq, TaskAdvance, o.ProcessAt); err != nil {
			e.logger.Warn("rescheduling a step's safety net", slog.String("run_id", t.runID), slog.String("error", err.Error()))
		}
	}
	e.dispatch(ctx, o)
}
