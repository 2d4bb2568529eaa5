package worker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

const segmentJourney = `{"format": 1, "name": "Lapsed", "settings": {"reentry": "after_exit"}, "nodes": [
	{"id": "start", "kind": "trigger_segment", "config": {"expr": "days_since(profile.last_seen_at) >= 30", "sweep": "1h"}},
	{"id": "bye", "kind": "exit"}],
	"edges": [{"from": "start", "to": "bye"}]}`

const planJourney = `{"format": 1, "name": "Pro", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_segment", "config": {"expr": "profile.plan == \"pro\""}},
	{"id": "bye", "kind": "exit"}],
	"edges": [{"from": "start", "to": "bye"}]}`

const scheduleJourney = `{"format": 1, "name": "Weekly", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_schedule", "config": {"mode": "cron", "cron": "0 9 * * *", "timezone": "Europe/Paris", "expr": "profile.newsletter == true"}},
	{"id": "bye", "kind": "exit"}],
	"edges": [{"from": "start", "to": "bye"}]}`

func countRuns(t *testing.T, h *harness, journeyID string) int {
	t.Helper()
	n, err := h.st.CountRuns(h.ctx, journeyID, "")
	require.NoError(t, err)
	return int(n)
}

func TestSegmentEntryOnProfileChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish([]byte(planJourney))
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{})

	p := h.profile("u1", map[string]any{"plan": "free"})
	runs, err := tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Empty(t, runs, "does not match")

	p = h.profile("u1", map[string]any{"plan": "pro"})
	runs, err = tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Len(t, runs, 1, "starts matching: enters")

	p = h.profile("u1", map[string]any{"plan": "pro", "age": 3})
	runs, err = tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Empty(t, runs, "still matching: no new entry")

	h.profile("u1", map[string]any{"plan": "free"})
	p = h.profile("u1", map[string]any{"plan": "free"})
	_, err = tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	p = h.profile("u1", map[string]any{"plan": "pro"})
	runs, err = tr.ProfileChanged(h.ctx, p)
	require.NoError(t, err)
	require.Len(t, runs, 1, "left and matched again: enters again (reentry always)")
	require.Equal(t, 2, countRuns(t, h, jid))
}

func TestSegmentSweepTimeBased(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	jid := h.publish([]byte(segmentJourney))
	now := h.clock.Now()
	for i := 0; i < 25; i++ {
		seen := now.Add(-time.Duration(i*2) * 24 * time.Hour).Format(time.RFC3339) // 0, 2, …, 48 days ago
		h.profile(fmt.Sprintf("p%02d", i), map[string]any{"last_seen_at": seen})
	}
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 7, Concurrency: 2})
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 10, countRuns(t, h, jid), "30..48 days: 10 profiles")
	trs, err := h.st.ListTriggerRuns(h.ctx, jid, 10)
	require.NoError(t, err)
	require.Len(t, trs, 1)
	require.Equal(t, store.TriggerDone, trs[0].Status)
	require.EqualValues(t, 25, trs[0].Scanned)
	require.EqualValues(t, 10, trs[0].Entered)
	require.NotNil(t, trs[0].FinishedAt)

	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 10, countRuns(t, h, jid), "same sweep period: the sweep does not run again")

	h.clock.Add(2 * 24 * time.Hour) // two more profiles cross 30 days
	require.NoError(t, tr.RunOnce(h.ctx))
	require.Equal(t, 11, countRuns(t, h, jid), "p14 (28→30 days) enters; those already matching do not re-enter")
}

func TestScheduleTickOncePerTickAcrossProcesses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rdb := redis.NewClient(mustRedisOpts(t, testenv.RedisURL(t, testenv.RedisDBTriggers)))
	t.Cleanup(func() { _ = rdb.Close() })
	jid := h.publish([]byte(scheduleJourney)) // published 2026-06-01 10:00 UTC = 12:00 Paris
	for i := 0; i < 30; i++ {
		h.profile(fmt.Sprintf("s%02d", i), map[string]any{"newsletter": i%3 == 0})
	}
	// Two "processes" (separate leases) on a fresh lease key per test run.
	a := worker.NewTriggers(h.eng, h.st, rdb, worker.TriggersConfig{Batch: 4})
	b := worker.NewTriggers(h.eng, h.st, rdb, worker.TriggersConfig{Batch: 4})
	require.NoError(t, a.RunOnce(h.ctx))
	require.NoError(t, b.RunOnce(h.ctx))
	require.Equal(t, 0, countRuns(t, h, jid), "no tick between publication and now")

	h.clock.Set(time.Date(2026, 6, 2, 7, 0, 30, 0, time.UTC)) // 09:00:30 Paris (CEST)
	var wg sync.WaitGroup
	for _, tr := range []*worker.Triggers{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = tr.RunOnce(h.ctx) }()
	}
	wg.Wait()
	// Whichever ran it, the tick row is unique: a new "process" (restart)
	// without the lease does not run it again either.
	c := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{})
	require.NoError(t, c.RunOnce(h.ctx))
	require.Equal(t, 10, countRuns(t, h, jid), "10 subscribers, once")
	trs, err := h.st.ListTriggerRuns(h.ctx, jid, 10)
	require.NoError(t, err)
	require.Len(t, trs, 1)
	require.Equal(t, time.Date(2026, 6, 2, 7, 0, 0, 0, time.UTC), trs[0].TickAt)

	h.clock.Set(time.Date(2026, 6, 3, 7, 5, 0, 0, time.UTC))
	require.NoError(t, c.RunOnce(h.ctx))
	require.Equal(t, 20, countRuns(t, h, jid), "next day's tick")
}

func mustRedisOpts(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	require.NoError(t, err)
	return o
}

func TestScheduleOfEvery(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	s, err := worker.ScheduleOf(map[string]any{"mode": "every", "every": 24 * time.Hour, "timezone": "Europe/Paris"}, nil)
	require.NoError(t, err)
	n := s.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, paris))
	require.Equal(t, time.Date(2026, 3, 29, 0, 0, 0, 0, paris), n.In(paris))
	require.Equal(t, time.Date(2026, 3, 30, 0, 0, 0, 0, paris), s.Next(n).In(paris), "midnight stays midnight across DST")
	s, err = worker.ScheduleOf(map[string]any{"mode": "every", "every": 6 * time.Hour}, time.UTC)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), s.Next(time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)))
}

// BenchmarkSegmentEntry sweeps WAYMARK_BENCH_PROFILES profiles (default
// 2,000) that all match a segment trigger, entering each, and reports
// profiles/s and the peak heap (runtime.MemStats) plus peak RSS
// (/proc/self/status VmHWM). WAYMARK_BENCH_DATABASE_URL picks the database
// (default: a SQLite file).
func BenchmarkSegmentEntry(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("WAYMARK_BENCH_PROFILES")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := benchHarness(b)
		jid := h.publish([]byte(planJourney))
		seedProfiles(b, h, n)
		tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 1000, Concurrency: 8})
		var peak uint64
		stop := make(chan struct{})
		go func() {
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-stop:
					return
				case <-tk.C:
				}
			}
		}()
		start := time.Now()
		b.StartTimer()
		require.NoError(b, tr.RunOnce(context.Background()))
		b.StopTimer()
		el := time.Since(start)
		close(stop)
		trs, err := h.st.ListTriggerRuns(context.Background(), jid, 1)
		require.NoError(b, err)
		require.EqualValues(b, n, trs[0].Entered)
		b.ReportMetric(float64(n)/el.Seconds(), "profiles/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MB")
		b.ReportMetric(float64(vmHWM())/1024, "peak_rss_MB")
		b.Logf("%d profiles entered in %s (peak heap %.1f MB, peak RSS %.1f MB)", n, el, float64(peak)/(1<<20), float64(vmHWM())/1024)
	}
}

func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range splitLines(string(b)) {
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			return kb
		}
	}
	return 0
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// benchHarness is newHarness for benchmarks: real clock, no logs;
// WAYMARK_BENCH_DATABASE_URL or a SQLite file. Tasks go to the Redis of
// WAYMARK_TEST_REDIS_URL (logical database WAYMARK_BENCH_REDIS_DB, default
// 14, flushed before and after) or to an in-process Redis, as in
// `waymark serve`, so entering includes queueing each run's first task.
func benchHarness(b *testing.B) *harness {
	b.Helper()
	ctx := context.Background()
	url := os.Getenv("WAYMARK_BENCH_DATABASE_URL")
	if url == "" {
		url = testenv.SQLiteURL(b)
	}
	st, err := store.Open(ctx, url, store.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(b, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(b, err)
	reg := nodes.NewRegistry()
	require.NoError(b, builtin.Register(reg))
	h := &harness{ctx: ctx, st: st, svc: journeys.New(st, reg), t: &testing.T{}}
	var redisURL string
	if os.Getenv("WAYMARK_TEST_REDIS_URL") != "" {
		redisURL = testenv.RedisURL(b, benchEnvInt("WAYMARK_BENCH_REDIS_DB", 14))
	} else {
		emb, err := embedredis.Start()
		require.NoError(b, err)
		b.Cleanup(emb.Close)
		redisURL = emb.URL()
	}
	opt, err := redis.ParseURL(redisURL)
	require.NoError(b, err)
	rdb := redis.NewClient(opt)
	require.NoError(b, rdb.FlushDB(ctx).Err())
	b.Cleanup(func() { _ = rdb.FlushDB(context.Background()).Err(); _ = rdb.Close() })
	h.eng = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Enqueuer: asynq.NewClientFromRedisClient(rdb)})
	return h
}

// seedProfiles makes n profiles that match the benchmark's segment: on
// PostgreSQL (WAYMARK_BENCH_DATABASE_URL) in one statement (bulkProfiles),
// on SQLite one upsert at a time.
func seedProfiles(b *testing.B, h *harness, n int) {
	b.Helper()
	if seedBulk(b, os.Getenv("WAYMARK_BENCH_DATABASE_URL"), n, `jsonb_build_object('plan', 'pro', 'country', 'FR', 'score', g)`) != nil {
		return
	}
	var wg sync.WaitGroup
	per := (n + 3) / 4
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * per; i < min(n, (w+1)*per); i++ {
				_, _, err := h.st.UpsertProfile(h.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("b%08d", i),
					Attributes: map[string]any{"plan": "pro", "country": "FR", "score": float64(i)}})
				if err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
}
