package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// TaskHousekeeping removes expired sessions (and, later, other expired rows).
const TaskHousekeeping = "system:housekeeping"

// HousekeepingStore is what housekeeping needs from storage.
type HousekeepingStore interface {
	DeleteExpiredSessions(ctx context.Context) (int64, error)
	DeleteExpiredIdempotencyKeys(ctx context.Context) (int64, error)
	DeleteWebhookReceiptsBefore(ctx context.Context, t time.Time) (int64, error)
	DeleteLoginAttemptsBefore(ctx context.Context, t time.Time) (int64, error)
}

// loginAttemptTTL: login throttling looks back at most a day.
const loginAttemptTTL = 24 * time.Hour

// webhookReceiptTTL is how long webhook-ids are remembered for
// de-duplication (Standard Webhooks senders retry for about a day).
const webhookReceiptTTL = 7 * 24 * time.Hour

// Housekeeper handles TaskHousekeeping.
type Housekeeper struct {
	store  HousekeepingStore
	logger *slog.Logger
}

// NewHousekeeper returns a handler for TaskHousekeeping.
func NewHousekeeper(store HousekeepingStore, logger *slog.Logger) *Housekeeper {
	return &Housekeeper{store: store, logger: logger}
}

// ProcessTask implements asynq.Handler.
func (h *Housekeeper) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	n, err := h.store.DeleteExpiredSessions(ctx)
	if err != nil {
		return fmt.Errorf("deleting expired sessions: %w", err)
	}
	k, err := h.store.DeleteExpiredIdempotencyKeys(ctx)
	if err != nil {
		return fmt.Errorf("deleting expired idempotency keys: %w", err)
	}
	if _, err := h.store.DeleteWebhookReceiptsBefore(ctx, time.Now().Add(-webhookReceiptTTL)); err != nil {
		return fmt.Errorf("deleting old webhook receipts: %w", err)
	}
	if _, err := h.store.DeleteLoginAttemptsBefore(ctx, time.Now().Add(-loginAttemptTTL)); err != nil {
		return fmt.Errorf("deleting old login attempts: %w", err)
	}
	if n > 0 || k > 0 {
		h.logger.InfoContext(ctx, "housekeeping", slog.Int64("expired_sessions_deleted", n), slog.Int64("expired_idempotency_keys_deleted", k))
	}
	return nil
}

// Enqueuer is the part of asynq.Client the scheduler uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Scheduler enqueues periodic work. Every process may run one: task ids are
// derived from the period, so two schedulers enqueue each tick once.
type Scheduler struct {
	client Enqueuer
	every  time.Duration
	now    func() time.Time
	logger *slog.Logger
}

// NewScheduler returns a scheduler ticking every period.
func NewScheduler(client Enqueuer, every time.Duration, now func() time.Time, logger *slog.Logger) *Scheduler {
	return &Scheduler{client: client, every: every, now: now, logger: logger}
}

// Tick enqueues the housekeeping task for the current period.
func (s *Scheduler) Tick(ctx context.Context) error {
	period := s.now().Unix() / int64(s.every/time.Second)
	id := TaskHousekeeping + ":" + strconv.FormatInt(period, 10)
	_, err := s.client.EnqueueContext(ctx, asynq.NewTask(TaskHousekeeping, nil),
		asynq.TaskID(id), asynq.Queue(QueueBulk), asynq.MaxRetry(3), asynq.Retention(2*s.every))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueueing %s: %w", id, err)
	}
	return nil
}

// Run ticks until ctx is done.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("scheduler tick failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
