package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/store"
)

// epochKey marks a Redis that holds Waymark's schedule. If it is missing,
// Redis was flushed or restarted without persistence (or is new, as in
// embedded mode at every start): every scheduled run is re-enqueued.
const epochKey = "waymark:schedule:epoch"

// Reconciler finds live runs whose next task is missing and enqueues it
// again; task ids from (run, sequence) make that idempotent. Only the leader
// (a Redis lease) reconciles, so split mode does the work once.
type Reconciler struct {
	e      *Engine
	rdb    redis.UniversalClient
	insp   *asynq.Inspector
	lease  *Lease
	every  time.Duration
	grace  time.Duration
	logger *slog.Logger
	// repaired, when set, counts each pass's re-enqueued runs (OnRepair).
	repaired func(n int, full bool)
}

// NewReconciler returns a reconciler ticking every period; runs overdue by
// more than grace count as lost.
func NewReconciler(e *Engine, rdb redis.UniversalClient, every, grace time.Duration) *Reconciler {
	return &Reconciler{e: e, rdb: rdb, insp: asynq.NewInspectorFromRedisClient(rdb), lease: NewLease(rdb, "reconciler", 3*every), every: every, grace: grace, logger: e.logger}
}

// OnRepair calls f after every pass that re-enqueued runs (n of them; full
// when Redis had lost the schedule): the /metrics repair counter.
func (r *Reconciler) OnRepair(f func(n int, full bool)) *Reconciler {
	r.repaired = f
	return r
}

// ReconcileOnce re-enqueues runs whose task may be missing: all scheduled
// runs when Redis lost its data, else the overdue ones. It reports how many
// tasks it enqueued (existing tasks count too: Asynq rejects them as
// duplicates, which is the no-op case).
func (r *Reconciler) ReconcileOnce(ctx context.Context) (int, bool, error) {
	n, err := r.rdb.Exists(ctx, epochKey).Result()
	if err != nil {
		return 0, false, err
	}
	full := n == 0
	// Runs parked while their journey was paused go back to work once it
	// is live again, whoever resumed it.
	if resumed, err := r.e.cfg.Store.ResumeLiveJourneyRuns(ctx, TaskAdvance); err != nil {
		return 0, full, err
	} else if resumed > 0 {
		r.logger.Info("resumed paused runs", slog.Int64("runs", resumed))
		if _, err := NewRelay(r.e, r.every).drainAll(ctx); err != nil {
			return 0, full, err
		}
	}
	before := time.Time{}
	if !full {
		before = r.e.now().Add(-r.grace)
	}
	total, after := 0, ""
	for {
		due, err := r.e.cfg.Store.ListDueRuns(ctx, before, after, 1000)
		if err != nil {
			return total, full, err
		}
		for _, d := range due {
			if err := r.enqueue(ctx, d); err != nil {
				return total, full, err
			}
			total++
		}
		if len(due) < 1000 {
			break
		}
		after = due[len(due)-1].ID
	}
	if full {
		if err := r.rdb.Set(ctx, epochKey, r.e.now().Format(time.RFC3339), 0).Err(); err != nil {
			return total, full, err
		}
	}
	return total, full, nil
}

// enqueue re-enqueues a due run's task. An existing task with its id is
// normally the no-op case, except an archived one (a task Asynq gave up
// on, or whose worker died on its last attempt): it would hold the id
// forever, so it is deleted and the task enqueued again.
func (r *Reconciler) enqueue(ctx context.Context, d store.DueRun) error {
	id := taskID(d.ID, d.Sequence)
	payload, err := json.Marshal(advancePayload{RunID: d.ID, Sequence: d.Sequence})
	if err != nil {
		return err
	}
	opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueDefault), asynq.MaxRetry(runTaskMaxRetry), asynq.Timeout(2 * time.Minute)}
	if d.NextDueAt.After(r.e.now().Add(10 * time.Millisecond)) {
		opts = append(opts, asynq.ProcessAt(d.NextDueAt))
	}
	_, err = r.e.cfg.Enqueuer.EnqueueContext(ctx, asynq.NewTask(TaskAdvance, payload), opts...)
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	info, ierr := r.insp.GetTaskInfo(QueueDefault, id)
	if ierr != nil || info.State != asynq.TaskStateArchived {
		return nil // pending, scheduled, retrying or running: it will come
	}
	if err := r.insp.DeleteTask(QueueDefault, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return err
	}
	r.logger.Warn("reconciler replaced an archived task", slog.String("run_id", d.ID), slog.Int("seq", d.Sequence))
	_, err = r.e.cfg.Enqueuer.EnqueueContext(ctx, asynq.NewTask(TaskAdvance, payload), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// Run reconciles at start and then every period while this process leads.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	defer r.lease.Release(context.Background())
	for {
		leader, err := r.lease.Acquire(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("reconciler lease", slog.String("error", err.Error()))
		}
		if leader {
			n, full, err := r.ReconcileOnce(ctx)
			if err == nil && n > 0 && r.repaired != nil {
				r.repaired(n, full)
			}
			switch {
			case err != nil && ctx.Err() == nil:
				r.logger.Warn("reconciler", slog.String("error", err.Error()))
			case full:
				r.logger.Info("reconciler rebuilt the schedule from the database", slog.Int("runs", n))
			case n > 0:
				r.logger.Warn("reconciler re-enqueued overdue runs", slog.Int("runs", n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Lease is a leader lease in Redis: one holder at a time, expiring if the
// holder stops renewing.
type Lease struct {
	rdb   redis.UniversalClient
	key   string
	token string
	ttl   time.Duration
}

// NewLease returns a lease on name.
func NewLease(rdb redis.UniversalClient, name string, ttl time.Duration) *Lease {
	return &Lease{rdb: rdb, key: "waymark:leader:" + name, token: uuid.NewString(), ttl: ttl}
}

var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Acquire takes or renews the lease and reports whether this process holds it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
	if err != nil || ok {
		return ok, err
	}
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return n == 1, err
}

// Release gives the lease up if this process holds it.
func (l *Lease) Release(ctx context.Context) {
	_ = releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token).Err()
}
