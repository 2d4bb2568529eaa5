package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// TestEngineSurvivesRedisRestart restarts the Redis server (without
// persistence: it comes back empty, on the same address) while runs wait on
// a delay. Workers reconnect, the reconciler sees the schedule is gone and
// rebuilds it from the database, and every run finishes with its message
// sent once. The server is the in-process one of embedded mode, so the test
// can stop and start it.
func TestEngineSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	m := miniredis.NewMiniRedis()
	require.NoError(t, m.StartAddr("127.0.0.1:0"))
	defer m.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // expire keys in real time, as embedded mode does
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				m.FastForward(200 * time.Millisecond)
			}
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: 5, MinRetryBackoff: 50 * time.Millisecond})
	defer rdb.Close()

	ctx := context.Background()
	st := openStore(t, testenv.SQLiteURL(t), nil)
	reg := registry(t)
	in := &inbox{}
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: in, Enqueuer: asynq.NewClientFromRedisClient(rdb), Logger: logger})
	svc := journeys.New(st, reg)
	j, _, err := svc.Create(ctx, store.DefaultWorkspaceID, journey("Restart", "",
		`{"id": "wait", "kind": "delay", "config": {"duration": "12s"}}, `+mailNode, `{"from": "start", "to": "wait"}, {"from": "wait", "to": "mail"}`), "t", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "t")
	require.NoError(t, err)

	srv := worker.NewServer(rdb, worker.Config{Concurrency: 4, ShutdownTimeout: time.Second}, logger)
	mux := asynq.NewServeMux()
	mux.Handle(worker.TaskAdvance, eng)
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go worker.NewReconciler(eng, rdb, 500*time.Millisecond, time.Minute).Run(rctx)

	const n = 60
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("r%d@example.com", i)
		p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("r", i), Email: &email})
		require.NoError(t, err)
		_, err = eng.Enter(ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, ProfileID: p.ID})
		require.NoError(t, err)
	}
	count := func(status string) int64 {
		c, err := st.CountRuns(ctx, j.ID, status)
		require.NoError(t, err)
		return c
	}
	require.Eventually(t, func() bool { return count(store.RunWaiting) == n }, 30*time.Second, 50*time.Millisecond)

	// Redis goes down and comes back empty.
	m.Close()
	m.FlushAll()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, m.Restart())

	require.Eventually(t, func() bool { return count(store.RunCompleted) == n }, 60*time.Second, 100*time.Millisecond,
		"runs by status: waiting %d, completed %d", count(store.RunWaiting), count(store.RunCompleted))
	msgs := in.sent()
	require.Len(t, msgs, n, "each run's message sent once")
	seen := map[string]bool{}
	for _, msg := range msgs {
		require.False(t, seen[msg.IdempotencyKey])
		seen[msg.IdempotencyKey] = true
	}
}
