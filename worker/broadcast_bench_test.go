package worker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// BenchmarkBroadcast sends one email to WAYMARK_BENCH_PROFILES profiles
// (default 2,000; the figure is 100,000) through the real sandbox
// connector, as `waymark serve` runs it: the database of
// WAYMARK_BENCH_DATABASE_URL (default a SQLite file) and an in-process
// Redis (or WAYMARK_TEST_REDIS_URL's, logical database 13, flushed), the
// trigger pass entering the audience in pages of 1,000 and an Asynq
// server of 8 workers sending, its progress read every 2 s as its page
// does. It reports the time from the broadcast's creation to done, the
// rate, and the process's peak RSS (VmHWM, the seeding included).
func BenchmarkBroadcast(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("WAYMARK_BENCH_PROFILES")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		url := os.Getenv("WAYMARK_BENCH_DATABASE_URL")
		if url == "" {
			url = testenv.SQLiteURL(b)
		}
		st, err := store.Open(ctx, url, store.Options{})
		require.NoError(b, err)
		_, err = st.Migrate(ctx)
		require.NoError(b, err)
		_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
		require.NoError(b, err)
		var rdb *redis.Client
		if os.Getenv("WAYMARK_TEST_REDIS_URL") != "" {
			opt, err := redis.ParseURL(testenv.RedisURL(b, 13))
			require.NoError(b, err)
			rdb = redis.NewClient(opt)
		} else {
			emb, err := embedredis.Start()
			require.NoError(b, err)
			defer emb.Close()
			opt, err := redis.ParseURL(emb.URL())
			require.NoError(b, err)
			rdb = redis.NewClient(opt)
		}
		require.NoError(b, rdb.FlushDB(ctx).Err())
		reg := nodes.NewRegistry()
		require.NoError(b, builtin.Register(reg))
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		keys, err := secrets.NewKeyring(key)
		require.NoError(b, err)
		creg, err := connbuiltin.NewRegistry()
		require.NoError(b, err)
		conns, err := connectors.NewService(st, keys, creg, connectors.Options{})
		require.NoError(b, err)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Suppressions: st,
			Enqueuer: asynq.NewClientFromRedisClient(rdb), Logger: logger, StatusCacheTTL: time.Second, InlineActions: true})
		svc := broadcasts.New(st, journeys.New(st, reg), eng)
		seedEmails(b, st, n)

		srv := worker.NewServer(rdb, worker.Config{Concurrency: 8, ShutdownTimeout: 2 * time.Second}, logger)
		mux := asynq.NewServeMux()
		mux.Handle(worker.TaskAdvance, eng)
		require.NoError(b, srv.Start(mux))
		go worker.NewRelay(eng, time.Second).Run(ctx)
		tr := worker.NewTriggers(eng, st, nil, worker.TriggersConfig{Batch: 1000, Concurrency: 8})

		start := time.Now()
		b.StartTimer()
		bc, err := svc.Create(ctx, store.DefaultWorkspaceID, broadcasts.Input{Name: "Bench", Audience: "true", Channel: "email",
			Connector: "sandbox", Subject: "Hi {{ profile.external_id }}", HTML: "<p>News</p>"}, "bench")
		require.NoError(b, err)
		require.NoError(b, tr.RunOnce(ctx))
		entered := time.Since(start)
		var got broadcasts.Broadcast
		for {
			got, err = svc.Get(ctx, store.DefaultWorkspaceID, bc.ID)
			require.NoError(b, err)
			if got.Status == store.BroadcastDone {
				break
			}
			time.Sleep(2 * time.Second) // as the broadcast's page refreshes
		}
		b.StopTimer()
		el := time.Since(start)
		srv.Shutdown()
		cancel()
		_ = rdb.Close()
		_ = st.Close()
		require.EqualValues(b, n, got.Progress.Sent)
		b.ReportMetric(el.Seconds(), "s_to_done")
		b.ReportMetric(entered.Seconds(), "s_entered")
		b.ReportMetric(float64(n)/el.Seconds(), "sends/s")
		b.ReportMetric(float64(vmHWM())/1024, "peak_rss_MB")
		b.Logf("broadcast to %d profiles: entered in %s, done in %s (%.0f sends/s), peak RSS %.1f MB",
			n, entered.Round(time.Millisecond), el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(vmHWM())/1024)
	}
}

// seedEmails makes n profiles with an email address, four writers at once.
func seedEmails(b *testing.B, st *store.Store, n int) {
	b.Helper()
	var wg sync.WaitGroup
	per := (n + 3) / 4
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * per; i < min(n, (w+1)*per); i++ {
				email := fmt.Sprintf("b%08d@example.com", i)
				_, _, err := st.UpsertProfile(context.Background(), store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID,
					ExternalID: fmt.Sprintf("b%08d", i), Email: &email})
				if err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
}
