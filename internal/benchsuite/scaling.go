package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// Redis logical databases the suite flushes; the Go benchmarks flush 14
// (WAYMARK_BENCH_REDIS_DB).
const (
	redisDBScaling = 9
	redisDBMemory  = 10
)

const benchSecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// scalingJourney is BenchmarkEngineVsAsynq's journey (trigger → condition →
// split → send to the sandbox → exit), so the numbers compare.
const scalingJourney = `{"format": 1, "name": "Bench scaling", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}},
	{"id": "check", "kind": "condition", "config": {"expr": "profile.plan == \"pro\" && profile.age >= 18"}},
	{"id": "ab", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
	{"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hello {{ profile.plan }}</p>"}},
	{"id": "done", "kind": "exit", "config": {}}],
	"edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "ab"}, {"from": "check", "port": "no", "to": "ab"},
		{"from": "ab", "port": "a", "to": "mail"}, {"from": "ab", "port": "b", "to": "mail"}, {"from": "mail", "to": "done"}]}`

// waitingJourney parks every run in a 30-day delay.
const waitingJourney = `{"format": 1, "name": "Bench waiting", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}},
	{"id": "wait", "kind": "delay", "config": {"duration": "720h"}},
	{"id": "done", "kind": "exit", "config": {}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "done"}]}`

func (s *suite) buildWaymark() (string, error) {
	if s.waymarkBin != "" {
		return s.waymarkBin, nil
	}
	out := filepath.Join(s.tmp, "waymark")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/waymark")
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/waymark: %v: %s", err, b)
	}
	s.waymarkBin = out
	return out, nil
}

func (s *suite) runScaling(ctx context.Context, haveServices bool) {
	if _, err := s.buildWaymark(); err != nil {
		s.warn("worker scaling: %v", err)
		return
	}
	if haveServices {
		for _, n := range s.sizes.ScaleWorkers {
			if ctx.Err() != nil {
				return
			}
			s.logf("  worker scaling: %d worker process(es), %d runs …", n, s.sizes.ScaleRuns)
			r := s.scalingPoint(ctx, n)
			s.res.Scaling = append(s.res.Scaling, r)
			s.logScaling(r)
		}
	}
	if ctx.Err() == nil {
		s.logf("  embedded: one waymark serve, %d runs …", s.sizes.ScaleRuns)
		r := s.embeddedPoint(ctx)
		s.res.Scaling = append(s.res.Scaling, r)
		s.logScaling(r)
	}
}

func (s *suite) logScaling(r ScalingResult) {
	if r.Err != "" {
		s.warn("scaling (%s, %d workers): %s", r.Mode, r.Workers, r.Err)
		return
	}
	w, d, rd, tot := r.CPUPer1kSteps()
	s.logf("    %.0f steps/s (%d steps in %.1fs); CPU-s per 1,000 steps: waymark %.2f, postgres %.2f, redis %.2f, total %.2f",
		r.StepsPerSec, r.Steps, r.Seconds, w, d, rd, tot)
}

// benchWorld is a store with a published journey and profiles.
type benchWorld struct {
	st  *store.Store
	reg *nodes.Registry
	jid string
	ids []string
}

func openWorld(ctx context.Context, dbURL, doc string, profiles int) (*benchWorld, error) {
	st, err := store.Open(ctx, dbURL, store.Options{MaxOpenConns: 16})
	if err != nil {
		return nil, err
	}
	w := &benchWorld{st: st}
	fail := func(err error) (*benchWorld, error) { st.Close(); return nil, err }
	if _, err := st.Migrate(ctx); err != nil {
		return fail(err)
	}
	if _, err := st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default"); err != nil {
		return fail(err)
	}
	w.reg = nodes.NewRegistry()
	if err := builtin.Register(w.reg); err != nil {
		return fail(err)
	}
	svc := journeys.New(st, w.reg)
	j, _, err := svc.Create(ctx, store.DefaultWorkspaceID, []byte(doc), "bench", journeys.SaveOptions{})
	if err != nil {
		return fail(fmt.Errorf("creating the journey: %w", err))
	}
	if _, err := svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "bench"); err != nil {
		return fail(fmt.Errorf("publishing the journey: %w", err))
	}
	w.jid = j.ID
	w.ids = make([]string, profiles)
	err = parallel(ctx, profiles, 8, func(i int) error {
		email := fmt.Sprintf("b%d@example.com", i)
		p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("b", i), Email: &email,
			Attributes: map[string]any{"plan": []string{"free", "pro"}[i%2], "age": 20 + i%50}})
		w.ids[i] = p.ID
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("creating profiles: %w", err))
	}
	return w, nil
}

// enter enters every profile with 16 in flight and returns entries/s.
func (w *benchWorld) enter(ctx context.Context, enq worker.Enqueuer) (float64, error) {
	return w.enterRange(ctx, enq, 0, len(w.ids))
}

// enterRange enters profiles [from, to).
func (w *benchWorld) enterRange(ctx context.Context, enq worker.Enqueuer, from, to int) (float64, error) {
	eng := worker.NewEngine(worker.EngineConfig{Store: w.st, Registry: w.reg, Connectors: noResolver{}, Enqueuer: enq,
		Logger: slog.New(slog.DiscardHandler)})
	start := time.Now()
	err := parallel(ctx, to-from, 16, func(i int) error {
		_, err := eng.Enter(ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: w.jid, ProfileID: w.ids[from+i]})
		return err
	})
	return float64(to-from) / time.Since(start).Seconds(), err
}

// stepsPerRun counts ledger rows of a few runs (the journey is the same
// path for every run).
func (w *benchWorld) stepsPerRun(ctx context.Context) (int, error) {
	runs, _, err := w.st.ListRuns(ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: w.jid, Limit: 3})
	if err != nil || len(runs) == 0 {
		return 0, fmt.Errorf("listing runs: %v", err)
	}
	steps, err := w.st.ListRunSteps(ctx, runs[0].ID)
	return len(steps), err
}

// waitFor polls the run count in a status until it reaches n.
func (w *benchWorld) waitFor(ctx context.Context, status string, n int, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	for {
		c, err := w.st.CountRuns(ctx, w.jid, status)
		if err != nil {
			return err
		}
		if int(c) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d runs %s after %s", c, n, status, budget)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type noResolver struct{}

func (noResolver) Resolve(context.Context, string, string) (connectors.Connector, error) {
	return nil, errors.New("the suite only enters runs")
}

// failingEnqueuer leaves every entry in the outbox: the embedded server
// picks them up at start (relay and reconciler).
type failingEnqueuer struct{}

func (failingEnqueuer) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errors.New("not now")
}

// scalingPoint enters ScaleRuns runs into a fresh schema with their first
// tasks queued in Redis, then starts n `waymark worker` processes and
// measures until every run has completed.
func (s *suite) scalingPoint(ctx context.Context, n int) (r ScalingResult) {
	r = ScalingResult{Mode: modePostgres, Workers: n, Runs: s.sizes.ScaleRuns}
	dbURL, drop, err := s.freshSchema(ctx)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer drop()
	rURL := s.redisDB(redisDBScaling)
	opt, err := redis.ParseURL(rURL)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		r.Err = "flushing Redis: " + err.Error()
		return r
	}
	w, err := openWorld(ctx, dbURL, scalingJourney, s.sizes.ScaleRuns)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer w.st.Close()
	if r.EntriesPerSec, err = w.enter(ctx, asynq.NewClientFromRedisClient(rdb)); err != nil {
		r.Err = "entering runs: " + err.Error()
		return r
	}

	pg0, pgSeen := postgresCPU(s.pgURL)
	rd0, rdSeen := redisCPU(s.redisURL)
	env := append(os.Environ(), "WAYMARK_DATABASE_URL="+dbURL, "WAYMARK_REDIS_URL="+rURL, "WAYMARK_SECRET_KEY="+benchSecretKey,
		"WAYMARK_WORKER_CONCURRENCY="+itoa(s.sizes.Concurrency), "WAYMARK_DB_MAX_CONNS="+itoa(s.sizes.Concurrency+2),
		"WAYMARK_SHUTDOWN_TIMEOUT=10s", "WAYMARK_LOG_LEVEL=warn", "WAYMARK_WORKER_LISTEN_ADDR=")
	start := time.Now()
	procs := make([]*benchProc, 0, n)
	for i := 0; i < n; i++ {
		p, err := startBenchProc(s.waymarkBin, env, "worker")
		if err != nil {
			r.Err = err.Error()
			return r
		}
		procs = append(procs, p)
	}
	err = w.waitFor(ctx, store.RunCompleted, r.Runs, s.budget)
	r.Seconds = time.Since(start).Seconds()
	for _, p := range procs {
		cpu, rss, out := p.stop()
		r.WorkerCPU += cpu
		r.WorkerRSSMB = max(r.WorkerRSSMB, rss)
		if err != nil {
			err = fmt.Errorf("%v; a worker's log: %s", err, lastLines(out, 10))
		}
	}
	pg1, _ := postgresCPU(s.pgURL)
	rd1, _ := redisCPU(s.redisURL)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.PostgresCPU, r.PostgresSeen = pg1-pg0, pgSeen
	r.RedisCPU, r.RedisSeen = rd1-rd0, rdSeen
	if err := r.countSteps(ctx, w); err != nil {
		r.Err = err.Error()
		return r
	}
	r.DBBytesPerRun = schemaBytes(ctx, dbURL) / float64(r.Runs)
	return r
}

// embeddedPoint is the same measure for one `waymark serve` on SQLite and
// the in-process Redis: the runs wait in the outbox until it starts.
func (s *suite) embeddedPoint(ctx context.Context) (r ScalingResult) {
	r = ScalingResult{Mode: modeEmbedded, Workers: 1, Runs: s.sizes.ScaleRuns}
	dir := filepath.Join(s.tmp, "embedded")
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.Err = err.Error()
		return r
	}
	defer os.RemoveAll(dir)
	w, err := openWorld(ctx, "sqlite:"+filepath.Join(dir, "waymark.db"), scalingJourney, s.sizes.ScaleRuns)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer w.st.Close()
	if r.EntriesPerSec, err = w.enter(ctx, failingEnqueuer{}); err != nil {
		r.Err = "entering runs: " + err.Error()
		return r
	}
	env := append(os.Environ(), "WAYMARK_DATA_DIR="+dir, "WAYMARK_DATABASE_URL=", "WAYMARK_REDIS_URL=", "WAYMARK_LISTEN_ADDR=127.0.0.1:0",
		"WAYMARK_WORKER_CONCURRENCY="+itoa(s.sizes.Concurrency), "WAYMARK_SHUTDOWN_TIMEOUT=10s", "WAYMARK_LOG_LEVEL=warn")
	start := time.Now()
	p, err := startBenchProc(s.waymarkBin, env, "serve")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	err = w.waitFor(ctx, store.RunCompleted, r.Runs, s.budget)
	r.Seconds = time.Since(start).Seconds()
	cpu, rss, out := p.stop()
	r.WorkerCPU, r.WorkerRSSMB = cpu, rss
	if err != nil {
		r.Err = fmt.Sprintf("%v; serve's log: %s", err, lastLines(out, 10))
		return r
	}
	if err := r.countSteps(ctx, w); err != nil {
		r.Err = err.Error()
		return r
	}
	if fi, err := os.Stat(filepath.Join(dir, "waymark.db")); err == nil {
		r.DBBytesPerRun = float64(fi.Size()) / float64(r.Runs)
	}
	return r
}

// runRedisMemory parks WaitingRuns runs in a 30-day delay and measures
// what that costs Redis: the used_memory delta per run and MEMORY USAGE of
// the task keys. A private redis-server (if installed) keeps other users of
// the shared one out of the numbers.
func (s *suite) runRedisMemory(ctx context.Context) {
	n := s.sizes.WaitingRuns
	s.logf("  Redis memory: %d runs waiting in a delay …", n)
	m := &RedisMemory{Runs: n}
	s.res.RedisMemory = m
	fail := func(err error) { m.Err = err.Error(); s.warn("Redis memory: %v", err) }
	if _, err := s.buildWaymark(); err != nil {
		fail(err)
		return
	}
	rURL := s.redisDB(redisDBMemory)
	if bin, err := exec.LookPath("redis-server"); err == nil {
		port, err := freePort()
		if err != nil {
			fail(err)
			return
		}
		dir := filepath.Join(s.tmp, "redis-memory")
		_ = os.MkdirAll(dir, 0o700)
		p, err := startBenchProc(bin, os.Environ(), "--port", itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err != nil {
			fail(err)
			return
		}
		defer p.stop()
		rURL, m.Private = fmt.Sprintf("redis://127.0.0.1:%d/0", port), true
	}
	opt, _ := redis.ParseURL(rURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			fail(errors.New("the Redis server for the memory measure did not answer"))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		fail(err)
		return
	}
	info, _ := rdb.Info(ctx, "server").Result()
	m.RedisVersion = infoField(info, "redis_version")
	dbURL, drop, err := s.freshSchema(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer drop()
	// A first batch pays the fixed costs (Lua scripts, the worker's own
	// keys, client buffers); the measure is the slope over the next n runs,
	// taken while the same worker runs.
	const warm = 200
	w, err := openWorld(ctx, dbURL, waitingJourney, warm+n)
	if err != nil {
		fail(err)
		return
	}
	defer w.st.Close()
	client := asynq.NewClientFromRedisClient(rdb)
	env := append(os.Environ(), "WAYMARK_DATABASE_URL="+dbURL, "WAYMARK_REDIS_URL="+rURL, "WAYMARK_SECRET_KEY="+benchSecretKey,
		"WAYMARK_WORKER_CONCURRENCY=20", "WAYMARK_SHUTDOWN_TIMEOUT=10s", "WAYMARK_LOG_LEVEL=warn", "WAYMARK_WORKER_LISTEN_ADDR=")
	p, err := startBenchProc(s.waymarkBin, env, "worker")
	if err != nil {
		fail(err)
		return
	}
	defer p.stop()
	settle := func(total int) (int64, error) {
		if err := w.waitFor(ctx, store.RunWaiting, total, s.budget); err != nil {
			return 0, fmt.Errorf("%v: %s", err, lastLines(p.out.String(), 10))
		}
		// Let completed-task bookkeeping and the outbox cleaner settle.
		time.Sleep(3 * time.Second)
		return usedMemory(ctx, rdb)
	}
	if _, err := w.enterRange(ctx, client, 0, warm); err != nil {
		fail(err)
		return
	}
	before, err := settle(warm)
	if err != nil {
		fail(err)
		return
	}
	if _, err := w.enterRange(ctx, client, warm, warm+n); err != nil {
		fail(err)
		return
	}
	after, err := settle(warm + n)
	if err != nil {
		fail(err)
		return
	}
	m.UsedMemoryDelta = after - before
	m.BytesPerRun = float64(m.UsedMemoryDelta) / float64(n)
	keys, _, err := rdb.Scan(ctx, 0, "asynq:{default}:t:*", 1000).Result()
	if err == nil && len(keys) > 0 {
		if len(keys) > 200 {
			keys = keys[:200]
		}
		var sum int64
		for _, k := range keys {
			v, _ := rdb.MemoryUsage(ctx, k).Result()
			sum += v
		}
		m.TaskKeyBytes = float64(sum) / float64(len(keys))
	}
	if v, err := rdb.MemoryUsage(ctx, "asynq:{default}:scheduled", 0).Result(); err == nil {
		m.ScheduledSetBytes = float64(v) / float64(n)
	}
	s.logf("    %.0f bytes per waiting run (used_memory delta); task hash %.0f B, scheduled-set entry %.0f B",
		m.BytesPerRun, m.TaskKeyBytes, m.ScheduledSetBytes)
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
}

// schemaBytes is the on-disk size of every table and index in the URL's schema.
func schemaBytes(ctx context.Context, dbURL string) float64 {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n sql.NullFloat64
	_ = db.QueryRowContext(ctx, `SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c
		JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind = 'r'`, u.Query().Get("search_path")).Scan(&n)
	return n.Float64
}

// benchProc is a child process the suite stops itself.
type benchProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	once sync.Once
}

func startBenchProc(bin string, env []string, args ...string) (*benchProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &benchProc{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", bin, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM (SIGKILL after 30 s) and returns the process's CPU
// seconds, peak RSS (MB) and output.
func (p *benchProc) stop() (cpu, rssMB float64, out string) {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	if ps := p.cmd.ProcessState; ps != nil {
		cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			rssMB = float64(ru.Maxrss) / 1024
		}
	}
	return cpu, rssMB, p.out.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the first MB
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// parallel runs fn(0…n-1) on `workers` goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// countSteps fills Steps and the rates from the ledger's steps per run.
func (r *ScalingResult) countSteps(ctx context.Context, w *benchWorld) error {
	per, err := w.stepsPerRun(ctx)
	if err != nil {
		return err
	}
	r.Steps = per * r.Runs
	r.StepsPerSec = float64(r.Steps) / r.Seconds
	r.RunsPerSec = float64(r.Runs) / r.Seconds
	return nil
}
