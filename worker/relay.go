package worker

import (
	"context"
	"log/slog"
	"time"
)

// Relay enqueues outbox items that were committed but not (yet) enqueued:
// the engine enqueues right after each commit, so the relay only sees the
// items of a crash, a Redis outage or a resume.
type Relay struct {
	e     *Engine
	every time.Duration
	age   time.Duration // leave younger items to the engine's own dispatch
}

// NewRelay returns a relay for e's outbox.
func NewRelay(e *Engine, every time.Duration) *Relay {
	return &Relay{e: e, every: every, age: time.Second}
}

// Drain enqueues every item older than the relay's age and reports how many.
func (r *Relay) Drain(ctx context.Context) (int, error) { return r.drain(ctx, r.e.now().Add(-r.age)) }

// drainAll enqueues every item, however young.
func (r *Relay) drainAll(ctx context.Context) (int, error) { return r.drain(ctx, r.e.now()) }

func (r *Relay) drain(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		items, err := r.e.cfg.Store.ListOutbox(ctx, before, 500)
		if err != nil || len(items) == 0 {
			return total, err
		}
		done := make([]int64, 0, len(items))
		for _, it := range items {
			if err := r.e.enqueue(ctx, it); err != nil {
				_ = r.e.cfg.Store.DeleteOutbox(ctx, done)
				return total + len(done), err
			}
			done = append(done, it.ID)
		}
		if err := r.e.cfg.Store.DeleteOutbox(ctx, done); err != nil {
			return total, err
		}
		total += len(done)
		if len(items) < 500 {
			return total, nil
		}
	}
}

// Run drains the outbox periodically until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := r.Drain(ctx); err != nil && ctx.Err() == nil {
				r.e.logger.Warn("outbox relay", slog.String("error", err.Error()))
			} else if n > 0 {
				r.e.logger.Info("outbox relay enqueued items", slog.Int("count", n))
			}
		}
	}
}
