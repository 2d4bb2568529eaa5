// Package worker runs Waymark's background work on Asynq: the task server
// with its queues, the scheduler loop, and the handlers. It talks to storage
// through small interfaces it declares.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queues, by priority. Asynq serves them by weight, so bulk work never
// starves journey entries.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueBulk     = "bulk"
)

// Config tunes the task server.
type Config struct {
	Concurrency     int
	ShutdownTimeout time.Duration
}

// NewServer builds an Asynq server on rdb with Waymark's queues and latency
// settings (see FIELD-NOTES: the defaults make timers seconds late).
func NewServer(rdb redis.UniversalClient, cfg Config, logger *slog.Logger) *asynq.Server {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 8 * time.Second
	}
	return asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   map[string]int{QueueCritical: 6, QueueDefault: 3, QueueBulk: 1},
		ShutdownTimeout:          cfg.ShutdownTimeout,
		TaskCheckInterval:        100 * time.Millisecond,
		DelayedTaskCheckInterval: 250 * time.Millisecond,
		Logger:                   NewAsynqLogger(logger),
		RetryDelayFunc:           RetryDelay,
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			logger.LogAttrs(ctx, slog.LevelWarn, "task failed",
				slog.String("task_type", t.Type()), slog.String("task_id", id), slog.String("error", err.Error()))
		}),
	})
}

// asynqLogger adapts slog to asynq.Logger.
type asynqLogger struct{ l *slog.Logger }

// NewAsynqLogger returns an asynq.Logger that writes to l.
func NewAsynqLogger(l *slog.Logger) asynq.Logger {
	return asynqLogger{l.With(slog.String("component", "asynq"))}
}

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
