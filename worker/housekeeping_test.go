package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/worker"
)

type fakeSessions struct{ calls atomic.Int64 }

func (f *fakeSessions) DeleteExpiredSessions(context.Context) (int64, error) {
	f.calls.Add(1)
	return 2, nil
}

func (f *fakeSessions) DeleteExpiredIdempotencyKeys(context.Context) (int64, error) { return 0, nil }

func (f *fakeSessions) DeleteWebhookReceiptsBefore(context.Context, time.Time) (int64, error) {
	return 0, nil
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestHousekeepingRunsOncePerPeriod uses real Redis: two schedulers ticking
// in the same period enqueue one task, and the worker runs it.
func TestHousekeepingRunsOncePerPeriod(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL(t, testenv.RedisDBWorker))
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	// Each run uses its own period so reruns and parallel packages do not collide.
	now := time.Unix(time.Now().UnixNano()%1e9*60, 0)
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))

	client := asynq.NewClientFromRedisClient(rdb)
	a := worker.NewScheduler(client, time.Minute, func() time.Time { return now }, logger)
	b := worker.NewScheduler(client, time.Minute, func() time.Time { return now.Add(30 * time.Second) }, logger)
	require.NoError(t, a.Tick(ctx))
	require.NoError(t, b.Tick(ctx), "a duplicate tick is not an error")

	sessions := &fakeSessions{}
	srv := worker.NewServer(rdb, worker.Config{Concurrency: 2, ShutdownTimeout: time.Second}, logger)
	mux := asynq.NewServeMux()
	mux.Handle(worker.TaskHousekeeping, worker.NewHousekeeper(sessions, logger))
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)
	require.Eventually(t, func() bool { return sessions.calls.Load() >= 1 }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	require.EqualValues(t, 1, sessions.calls.Load(), "the period's task ran once")
}

func (f *fakeSessions) DeleteLoginAttemptsBefore(context.Context, time.Time) (int64, error) {
	return 0, nil
}
