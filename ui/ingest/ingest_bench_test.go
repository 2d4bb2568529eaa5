package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/connectors/webhook"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// BenchmarkWebhookIngest drives POST /hooks/{key} on a real listener with
// signed requests from a Go load generator on loopback, for a bounded count:
// first as fast as 32 clients go (accepted req/s), then at a fixed rate
// (p50/p99 latency). Every request enters a new profile (a run plus its
// outbox item, enqueued to Redis). With WAYMARK_TEST_DATABASE_URL and
// WAYMARK_TEST_REDIS_URL it uses PostgreSQL and Redis, else SQLite and the
// in-process Redis. WAYMARK_BENCH_REQUESTS (default 3000),
// WAYMARK_BENCH_RATE (default 1000/s).
func BenchmarkWebhookIngest(b *testing.B) {
	n := envInt("WAYMARK_BENCH_REQUESTS", 3000)
	rate := envInt("WAYMARK_BENCH_RATE", 1000)
	for i := 0; i < b.N; i++ {
		base, path, secret, mode := ingestServer(b)
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}} // bounded: a stuck request cannot hang the run
		// Every request is signed before the clock starts, as a load
		// generator prepares its requests: the measure is the server's.
		type signed struct {
			body        []byte
			id, ts, sig string
		}
		reqs := make([]signed, 2*n)
		key, _ := webhook.DecodeSecret(secret)
		run := time.Now().UnixNano()
		for k := range reqs {
			body := []byte(fmt.Sprintf(`{"user": {"id": "bench-%d-%d"}}`, run, k))
			ts := time.Now().Unix()
			id := "msg_" + strconv.Itoa(k) + "_" + strconv.FormatInt(run, 36)
			reqs[k] = signed{body: body, id: id, ts: strconv.FormatInt(ts, 10), sig: webhook.Sign(key, id, ts, body)}
		}
		send := func(k int) (time.Duration, int) {
			r := reqs[k]
			req, _ := http.NewRequest("POST", base+path, bytes.NewReader(r.body))
			req.Header.Set("webhook-id", r.id)
			req.Header.Set("webhook-timestamp", r.ts)
			req.Header.Set("webhook-signature", r.sig)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return time.Since(start), 0
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return time.Since(start), resp.StatusCode
		}

		// Throughput: 32 clients, n requests.
		var mu sync.Mutex
		accepted := 0
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int, n)
		for k := 0; k < n; k++ {
			next <- k
		}
		close(next)
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range next {
					if _, code := send(k); code == 202 {
						mu.Lock()
						accepted++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		throughput := float64(accepted) / time.Since(start).Seconds()

		// Latency at a fixed rate, bounded by count and time.
		lat := make([]time.Duration, 0, n)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		deadline := time.Now().Add(30 * time.Second)
		var lw sync.WaitGroup
		for k := 0; k < n && time.Now().Before(deadline); k++ {
			<-tick.C
			lw.Add(1)
			go func(k int) {
				defer lw.Done()
				d, code := send(n + k)
				if code == 202 {
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}(k)
		}
		tick.Stop()
		lw.Wait()
		sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
		q := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[int(p*float64(len(lat)-1))]
		}
		b.ReportMetric(throughput, "accepted_req/s")
		b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99_ms")
		b.Logf("%s: %d signed webhook requests from 32 clients: %.0f accepted/s; at %d req/s: p50 %s, p99 %s (%d accepted)",
			mode, n, throughput, rate, q(0.5), q(0.99), len(lat))
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// ingestServer starts Waymark's HTTP server with a published webhook
// journey and returns the base URL, the hook path and its secret.
func ingestServer(b *testing.B) (base, path, secret, mode string) {
	b.Helper()
	ctx := context.Background()
	mode = "embedded (SQLite + in-process Redis)"
	dbURL, redisURL := testenv.SQLiteURL(b), ""
	if os.Getenv("WAYMARK_TEST_DATABASE_URL") != "" && os.Getenv("WAYMARK_TEST_REDIS_URL") != "" {
		// A Redis database of its own (WAYMARK_BENCH_REDIS_DB, default 14,
		// as the engine benchmarks), flushed before and after: the tasks
		// it queues are never run, and must not pile up run after run.
		mode, dbURL, redisURL = "PostgreSQL + Redis", testenv.PostgresURL(b), testenv.RedisURL(b, envInt("WAYMARK_BENCH_REDIS_DB", 14))
	} else {
		emb, err := embedredis.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(emb.Close)
		redisURL = emb.URL()
	}
	st, err := store.Open(ctx, dbURL, store.Options{MaxOpenConns: 32})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default"); err != nil {
		b.Fatal(err)
	}
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rdb.FlushDB(context.Background()).Err(); _ = rdb.Close() })
	reg := nodes.NewRegistry()
	if err := builtin.Register(reg); err != nil {
		b.Fatal(err)
	}
	keys, _ := secrets.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	svc := journeys.New(st, reg)
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: uitest.SandboxOnly{}, Enqueuer: asynq.NewClientFromRedisClient(rdb), StatusCacheTTL: time.Second})
	// As in `waymark serve`: enqueued outbox items are deleted in batches.
	cctx, stopCleaner := context.WithCancel(context.Background())
	go eng.RunOutboxCleaner(cctx)
	b.Cleanup(stopCleaner)
	srv, err := ui.New(ui.Config{Version: "bench", BodyLimit: 1 << 20}, ui.Deps{
		Store: st, Journeys: svc, Engine: eng, Hooks: hooks.New(st, keys, "", nil).ReuseJourneys(time.Second), Logger: slog.New(slog.DiscardHandler), // as in `waymark serve`
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.App().Listener(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	j, _, err := svc.Create(ctx, store.DefaultWorkspaceID, []byte(uitest.HookJourney), "bench", journeys.SaveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	// The journey's re-entry rule is "never"; each request brings a new profile.
	h, err := hooks.New(st, keys, "", nil).Get(ctx, store.DefaultWorkspaceID, j.ID)
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + ln.Addr().String(), "/hooks/" + h.Key, h.Secrets[0], mode
}
