package worker_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for bulkProfiles
	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/sandbox"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Benchmarks here measure whole-system throughput on the machine at hand.
// They use WAYMARK_TEST_DATABASE_URL / WAYMARK_TEST_REDIS_URL when set
// (PostgreSQL + Redis), else embedded mode (SQLite + in-process Redis).
// Run them once each: make bench-engine (see docs/benchmarks.md).

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type sandboxResolver struct{}

func (sandboxResolver) Resolve(context.Context, string, string) (connectors.Connector, error) {
	return sandbox.Connector{}, nil
}

type benchStack struct {
	mode  string
	dbURL string
	st    *store.Store
	rdb   *redis.Client
	eng   *worker.Engine
	svc   *journeys.Service
}

func newBenchStack(b *testing.B) *benchStack {
	b.Helper()
	ctx := context.Background()
	s := &benchStack{mode: "embedded (SQLite + in-process Redis)"}
	dbURL := testenv.SQLiteURL(b)
	redisURL := ""
	if os.Getenv("WAYMARK_TEST_DATABASE_URL") != "" && os.Getenv("WAYMARK_TEST_REDIS_URL") != "" {
		s.mode = "PostgreSQL + Redis"
		dbURL = testenv.PostgresURL(b)
		// A Redis DB of its own: the engine tests flush theirs, and may
		// run at the same time.
		redisURL = testenv.RedisURL(b, benchEnvInt("WAYMARK_BENCH_REDIS_DB", 14))
	} else {
		emb, err := embedredis.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(emb.Close)
		redisURL = emb.URL()
	}
	s.dbURL = dbURL
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	s.rdb = redis.NewClient(opt)
	b.Cleanup(func() { _ = s.rdb.Close() })
	if err := s.rdb.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, dbURL, store.Options{MaxOpenConns: 16})
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
	s.st = st
	reg := registry(&testing.T{})
	s.svc = journeys.New(st, reg)
	s.eng = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: sandboxResolver{},
		Enqueuer: asynq.NewClientFromRedisClient(s.rdb), Logger: slog.New(slog.DiscardHandler), StatusCacheTTL: time.Second, InlineActions: true})
	return s
}

func (s *benchStack) server(concurrency int, h asynq.Handler, pattern string) *asynq.Server {
	srv := worker.NewServer(s.rdb, worker.Config{Concurrency: concurrency, ShutdownTimeout: time.Second}, slog.New(slog.DiscardHandler))
	mux := asynq.NewServeMux()
	mux.Handle(pattern, h)
	if err := srv.Start(mux); err != nil {
		panic(err)
	}
	return srv
}

// rawAsynq measures no-op tasks per second on the same Redis, from enqueue
// of the first task to completion of the last: the baseline.
func rawAsynq(b *testing.B, s *benchStack, n int) float64 {
	var done atomic.Int64
	finished := make(chan struct{})
	srv := s.server(20, asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if done.Add(1) == int64(n) {
			close(finished)
		}
		return nil
	}), "bench:noop")
	defer srv.Shutdown()
	client := asynq.NewClientFromRedisClient(s.rdb)
	start := time.Now()
	parallel(n, 8, func(i int) {
		if _, err := client.Enqueue(asynq.NewTask("bench:noop", nil), asynq.TaskID(fmt.Sprint("noop:", i)), asynq.MaxRetry(3)); err != nil {
			panic(err)
		}
	})
	<-finished
	return float64(n) / time.Since(start).Seconds()
}

func parallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

func (s *benchStack) publish(b *testing.B, doc []byte) string {
	ctx := context.Background()
	j, _, err := s.svc.Create(ctx, store.DefaultWorkspaceID, doc, "bench", journeys.SaveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	return j.ID
}

func (s *benchStack) profiles(b *testing.B, n int) []string {
	if ids := bulkProfiles(b, s.dbURL, n, `jsonb_build_object('plan', CASE WHEN g % 2 = 0 THEN 'free' ELSE 'pro' END, 'age', 20 + g % 50)`); ids != nil {
		return ids
	}
	ids := make([]string, n)
	parallel(n, 8, func(i int) {
		email := fmt.Sprintf("b%d@example.com", i)
		p, _, err := s.st.UpsertProfile(context.Background(), store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("b", i), Email: &email,
			Attributes: map[string]any{"plan": []string{"free", "pro"}[i%2], "age": 20 + i%50}})
		if err != nil {
			panic(err)
		}
		ids[i] = p.ID
	})
	return ids
}

func (s *benchStack) waitCompleted(b *testing.B, jid string, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := s.st.CountRuns(context.Background(), jid, store.RunCompleted)
		if err != nil {
			b.Fatal(err)
		}
		if int(c) >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d runs completed in %s", c, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkEngineVsAsynq compares Waymark's steps/s on a 5-node journey
// (trigger → condition → split → send to sandbox → exit) with raw Asynq
// no-op tasks/s on the same Redis, in one run.
func BenchmarkEngineVsAsynq(b *testing.B) {
	n := benchEnvInt("WAYMARK_BENCH_ENTRIES", 2000)
	for i := 0; i < b.N; i++ {
		s := newBenchStack(b)
		raw := rawAsynq(b, s, n)
		jid := s.publish(b, journey("Bench", `{"reentry": "always"}`,
			`{"id": "check", "kind": "condition", "config": {"expr": "profile.plan == \"pro\" && profile.age >= 18"}},
			 {"id": "ab", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
			 {"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hello {{ profile.plan }}</p>"}},
			 {"id": "done", "kind": "exit", "config": {}}`,
			`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "ab"}, {"from": "check", "port": "no", "to": "ab"},
			 {"from": "ab", "port": "a", "to": "mail"}, {"from": "ab", "port": "b", "to": "mail"}, {"from": "mail", "to": "done"}`))
		ids := s.profiles(b, n)
		srv := s.server(20, s.eng, worker.TaskAdvance)
		cctx, stopCleaner := context.WithCancel(context.Background())
		go s.eng.RunOutboxCleaner(cctx)
		defer stopCleaner()
		start := time.Now()
		parallel(n, 16, func(i int) {
			if _, err := s.eng.Enter(context.Background(), worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: ids[i]}); err != nil {
				panic(err)
			}
		})
		entered := time.Since(start)
		s.waitCompleted(b, jid, n, 10*time.Minute)
		elapsed := time.Since(start)
		srv.Shutdown()
		steps := float64(5*n) / elapsed.Seconds()
		b.ReportMetric(raw, "asynq_noop_tasks/s")
		b.ReportMetric(steps, "steps/s")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "runs/s")
		b.ReportMetric(float64(n)/entered.Seconds(), "entries/s")
		b.ReportMetric(steps/raw, "ratio")
		b.Logf("%s, %d entries: raw Asynq %.0f tasks/s; Waymark %.0f steps/s, %.0f runs/s (entries accepted at %.0f/s); ratio %.2f",
			s.mode, n, raw, steps, float64(n)/elapsed.Seconds(), float64(n)/entered.Seconds(), steps/raw)
	}
}

// BenchmarkTimerLateness parks WAYMARK_BENCH_TIMERS runs (default 3,000)
// on a delay, due evenly across a window of
// WAYMARK_BENCH_TIMER_WINDOW_SECONDS (default 20) that opens
// WAYMARK_BENCH_TIMER_LEAD_SECONDS after entering starts (default 15 s +
// 1 s per 1,000 timers, so that every run is waiting before the first is
// due), and reports how late each run woke: p50/p99 of (step time − due
// time). The due time comes with the entry event, as a webhook's would.
func BenchmarkTimerLateness(b *testing.B) {
	n := benchEnvInt("WAYMARK_BENCH_TIMERS", 3000)
	window := time.Duration(benchEnvInt("WAYMARK_BENCH_TIMER_WINDOW_SECONDS", 20)) * time.Second
	lead := time.Duration(benchEnvInt("WAYMARK_BENCH_TIMER_LEAD_SECONDS", 15+n/1000)) * time.Second
	for i := 0; i < b.N; i++ {
		s := newBenchStack(b)
		jid := s.publish(b, journey("Timers", `{"reentry": "always"}`,
			`{"id": "wait", "kind": "delay", "config": {"mode": "until_date", "date": "run.entry.properties.due_at"}}, {"id": "done", "kind": "exit", "config": {}}`,
			`{"from": "start", "to": "wait"}, {"from": "wait", "to": "done"}`))
		ctx := context.Background()
		ids := bulkProfiles(b, s.dbURL, n, `'{}'::jsonb`)
		if ids == nil {
			ids = make([]string, n)
			parallel(n, 8, func(k int) {
				p, _, err := s.st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("b%08d", k)})
				if err != nil {
					panic(err)
				}
				ids[k] = p.ID
			})
		}
		srv := s.server(20, s.eng, worker.TaskAdvance)
		cctx, stopCleaner := context.WithCancel(context.Background())
		go s.eng.RunOutboxCleaner(cctx)
		defer stopCleaner()
		start := time.Now()
		base := start.Add(lead)
		parallel(n, 16, func(k int) {
			due := base.Add(time.Duration(int64(window) * int64(k) / int64(n))).UTC().Format(time.RFC3339Nano)
			if _, err := s.eng.Enter(ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: jid, ProfileID: ids[k],
				Event: worker.EntryEvent{Name: "bench", Properties: map[string]any{"due_at": due}}}); err != nil {
				panic(err)
			}
		})
		entering := time.Since(start)
		if entering > lead {
			b.Logf("entering %d runs took %s, longer than the %s lead: the window opened before every run waited", n, entering.Round(time.Millisecond), lead)
		}
		s.waitCompleted(b, jid, n, lead+window+5*time.Minute)
		srv.Shutdown()
		late, err := s.st.DelayLateness(ctx, jid, "wait")
		if err != nil {
			b.Fatal(err)
		}
		if len(late) == 0 {
			// A run entered after its due time goes straight on and has
			// no lateness to measure.
			b.Fatalf("no run waited: entering took %s, past every due time (%d entries); raise WAYMARK_BENCH_TIMER_LEAD_SECONDS", entering, n)
		}
		if len(late) < n {
			b.Logf("%d of %d runs entered after their due time and were not measured", n-len(late), n)
		}
		sort.Slice(late, func(a, c int) bool { return late[a] < late[c] })
		p := func(q float64) time.Duration { return late[int(q*float64(len(late)-1))] }
		b.ReportMetric(float64(p(0.5).Milliseconds()), "p50_late_ms")
		b.ReportMetric(float64(p(0.99).Milliseconds()), "p99_late_ms")
		b.ReportMetric(float64(len(late)), "timers_measured")
		b.Logf("%s, %d delays due within %s (entered in %s): lateness p50 %s, p99 %s, max %s (min %s, p10 %s, p90 %s)", s.mode, n, window,
			entering.Round(time.Millisecond), p(0.5), p(0.99), late[len(late)-1], late[0], p(0.1), p(0.9))
	}
}

// bulkProfiles makes n profiles (external ids b00000000…, emails
// b0@example.com…, attributes from
// the SQL expression attrs over g, the row number) in one INSERT … SELECT
// FROM generate_series and returns their ids in that order, on PostgreSQL;
// on anything else it returns nil and the caller upserts. Creating a
// million profiles one upsert at a time took longer than the benchmarks
// they prepare.
func bulkProfiles(b *testing.B, dbURL string, n int, attrs string) []string {
	b.Helper()
	db := seedBulk(b, dbURL, n, attrs)
	if db == nil {
		return nil
	}
	rows, err := db.QueryContext(context.Background(), `SELECT id FROM profiles WHERE workspace_id = $1 AND external_id LIKE 'b%' ORDER BY external_id`, store.DefaultWorkspaceID)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	ids := make([]string, 0, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if len(ids) != n {
		b.Fatalf("seeded %d profiles, found %d", n, len(ids))
	}
	return ids
}

// seedBulk is bulkProfiles without reading the ids back (a million ids
// would count in the peak memory the segment benchmark reports); it returns
// its connection (closed when the benchmark ends), or nil when dbURL is not
// PostgreSQL.
func seedBulk(b *testing.B, dbURL string, n int, attrs string) *sql.DB {
	b.Helper()
	if !strings.HasPrefix(dbURL, "postgres") {
		return nil
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(ctx, `INSERT INTO profiles (id, workspace_id, external_id, email, attributes, created_at, updated_at)
		SELECT gen_random_uuid()::text, $1, 'b' || lpad(g::text, 8, '0'), 'b' || g || '@example.com', `+attrs+`, now(), now()
		FROM generate_series(0, $2::int - 1) AS g`, store.DefaultWorkspaceID, n); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE profiles`); err != nil {
		b.Fatal(err)
	}
	return db
}
