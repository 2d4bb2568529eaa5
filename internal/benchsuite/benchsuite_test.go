package main

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/webhook"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/waymarkhq/waymark/worker
cpu: Intel(R) Xeon(R) CPU @ 2.20GHz
BenchmarkEngineVsAsynq-2   	       1	12345678901 ns/op	         7012 asynq_noop_tasks/s	      0.3000 ratio	       421.0 runs/s	      2105 steps/s	       880.5 entries/s	  new_metric_x 3
--- BENCH: BenchmarkEngineVsAsynq-2
    bench_test.go:230: PostgreSQL + Redis, 5000 entries: raw Asynq 7012 tasks/s; Waymark 2105 steps/s
BenchmarkEval/struct-2     	 1000000	        87.1 ns/op	      16 B/op	       2 allocs/op
BenchmarkParse-2           	     200	   6300000 ns/op	  58.10 MB/s
BenchmarkHeader
PASS
ok  	github.com/waymarkhq/waymark/worker	20.1s
`

func TestParseBenchOutput(t *testing.T) {
	t.Parallel()
	lines, logs := parseBenchOutput(sampleOutput)
	require.Len(t, lines, 3)
	e := lines[0]
	require.Equal(t, "BenchmarkEngineVsAsynq", e.Name)
	require.Equal(t, 2, e.Procs)
	require.Equal(t, 1, e.N)
	require.InDelta(t, 2105, e.Metrics["steps/s"], 0.001)
	require.InDelta(t, 0.3, e.Metrics["ratio"], 0.001)
	require.InDelta(t, 12345678901, e.Metrics["ns/op"], 1)
	require.NotContains(t, e.Metrics, "new_metric_x", "a malformed pair is skipped, the rest kept")
	require.Equal(t, "BenchmarkEval/struct", lines[1].Name)
	require.InDelta(t, 2, lines[1].Metrics["allocs/op"], 0)
	require.InDelta(t, 58.1, lines[2].Metrics["MB/s"], 0.001)
	require.Equal(t, []string{"PostgreSQL + Redis, 5000 entries: raw Asynq 7012 tasks/s; Waymark 2105 steps/s"}, logs)
}

func TestStatTicks(t *testing.T) {
	t.Parallel()
	// pid (comm with ) and spaces) state ppid … utime stime cutime cstime …
	stat := "1234 (post gres) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 100 1000 10 0"
	n, ok := statTicks(stat)
	require.True(t, ok)
	require.EqualValues(t, 250+50+7+3, n)
	_, ok = statTicks("garbage")
	require.False(t, ok)
}

func TestShortErr(t *testing.T) {
	t.Parallel()
	err := "exit status 2: panic: runtime error: index out of range [0] with length 0\n\ngoroutine 10 [running]:\n" +
		"github.com/waymarkhq/waymark/worker_test.BenchmarkTimerLateness.func4(...)\n\t/work/x/worker/bench_test.go:271\n"
	require.Equal(t, "exit status 2: panic: runtime error: index out of range [0] with length 0 (at worker/bench_test.go:271)", shortErr(err))
	require.Equal(t, "a b", shortErr("  a   b \n c"))
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1,234,568", fmtNum(1234567.8))
	require.Equal(t, "12.3", fmtNum(12.34))
	require.Equal(t, "1.23", fmtNum(1.234))
	require.Equal(t, "0.12", fmtNum(0.1234))
	require.Equal(t, "0.00123", fmtNum(0.001234))
	require.Equal(t, "-1,000", fmtInt(-1000))
	require.Equal(t, "4.5 min", fmtSecs(270))
	require.Equal(t, "1.5 GB", fmtBytes(1.5*(1<<30)))
}

// TestRender renders the report from made-up results, with a missing
// metric, a failed benchmark and a failed scaling point, and checks the
// outputs are whole: Markdown tables, well-formed SVG, the scaling block.
func TestRender(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	res := &Results{
		Started: now, Finished: now.Add(42 * time.Minute), Command: "go run ./internal/benchsuite",
		Machine: Machine{CPU: "Test CPU <x>", Cores: 2, MemoryGB: 24, OS: "Debian", Kernel: "6.1", Go: "go1.26", Postgres: "PostgreSQL 15.1", Redis: "Redis 7.0.15", Load: "0.5 0.4 0.3", Commit: "abc123"},
		Sizes:   fullSizes,
		Benchmarks: []BenchResult{
			{Key: "engine", Name: "BenchmarkEngineVsAsynq", Mode: modePostgres, Env: map[string]string{"WAYMARK_BENCH_ENTRIES": "5000"},
				Metrics: map[string]float64{"asynq_noop_tasks/s": 7000, "steps/s": 2100, "runs/s": 420, "entries/s": 880, "ratio": 0.3, "renamed/s": 5}, Logs: []string{"a log line"}},
			{Key: "engine", Name: "BenchmarkEngineVsAsynq", Mode: modeEmbedded, Env: map[string]string{"WAYMARK_BENCH_ENTRIES": "5000"},
				Metrics: map[string]float64{"asynq_noop_tasks/s": 1200, "steps/s": 2000}, Missing: []string{"runs/s"}},
			{Key: "ingest", Name: "BenchmarkWebhookIngest", Mode: modePostgres, Env: map[string]string{"WAYMARK_BENCH_RATE": "1000"},
				Metrics: map[string]float64{"accepted_req/s": 650, "p50_ms": 4, "p99_ms": 30}},
			{Key: "timers", Name: "BenchmarkTimerLateness", Mode: modePostgres, Env: map[string]string{"WAYMARK_BENCH_TIMERS": "10000"},
				Metrics: map[string]float64{"p50_late_ms": 200, "p99_late_ms": 450}},
			{Key: "segment", Name: "BenchmarkSegmentEntry", Mode: modeEmbedded, Env: map[string]string{"WAYMARK_BENCH_PROFILES": "1000000"},
				Metrics: map[string]float64{"profiles/s": 1900, "peak_heap_MB": 6, "peak_rss_MB": 40}, MaxRSSMB: 41, Wall: 900},
			{Key: "segment", Name: "BenchmarkSegmentEntry", Mode: modePostgres, Err: "stopped after the 90m budget: …"},
		},
		Scaling: []ScalingResult{
			{Mode: modePostgres, Workers: 1, Runs: 20000, Steps: 100000, Seconds: 50, StepsPerSec: 2000, RunsPerSec: 400, WorkerCPU: 30, PostgresCPU: 60, RedisCPU: 5, PostgresSeen: true, RedisSeen: true, WorkerRSSMB: 60, DBBytesPerRun: 4100},
			{Mode: modePostgres, Workers: 2, Err: "1 of 20000 runs completed"},
			{Mode: modeEmbedded, Workers: 1, Runs: 20000, Steps: 100000, Seconds: 60, StepsPerSec: 1666, WorkerCPU: 80},
		},
		RedisMemory: &RedisMemory{Runs: 20000, BytesPerRun: 640, TaskKeyBytes: 420, ScheduledSetBytes: 110, Private: true, RedisVersion: "7.0.15"},
		Micro:       []MicroResult{{Pkg: "flows", Name: "BenchmarkValidate", Metrics: map[string]float64{"ns/op": 5.1e6, "B/op": 3e6, "allocs/op": 40900}, Order: []string{"ns/op", "B/op", "allocs/op"}}},
		Warnings:    []string{"something odd"},
		Flow: []FlowResult{
			{Mode: modeBaseline, Setup: flowSetup(modeBaseline), Requests: 10000, Senders: 32, Accepted: 10000, AcceptedPerSec: 4000, P50ms: 5, P99ms: 20,
				Expected: 5000, Delivered: 5000, DeliveriesPerSec: 2000, ServerCPU: 2, PeakRSSMB: 30, LoadStart: "1.0 1.0 1.0", LoadEnd: "2.0 1.0 1.0"},
			{Mode: modePostgres, Setup: flowSetup(modePostgres), Requests: 10000, Senders: 32, Accepted: 10000, AcceptedPerSec: 2500, P50ms: 10, P99ms: 60,
				Expected: 5000, Delivered: 5000, DeliveriesPerSec: 500, ServerCPU: 6, PostgresCPU: 8, PostgresOwnCPU: 5, PostgresBackends: 12, RedisCPU: 1, PostgresSeen: true, RedisSeen: true, PeakRSSMB: 80, ClientCPU: 3,
				Writes:  []TableWrites{{Table: "outbox", Inserted: 15000, Deleted: 15000}, {Table: "runs", Inserted: 10000, Updated: 15000, HOT: 5000}, {Table: "journeys", Updated: 2}},
				Profile: "/tmp/x/flow-postgres.pprof"},
			{Mode: modeEmbedded, Setup: flowSetup(modeEmbedded), Requests: 10000, Senders: 32, Accepted: 10000, AcceptedPerSec: 700, P50ms: 40, P99ms: 200,
				Expected: 5000, Delivered: 4999, Lost: 1, Duplicates: 2, DeliveriesPerSec: 900, ServerCPU: 9, PeakRSSMB: 150, Err: "no delivery for 1m0s: 4999 of 5000 delivered"},
		},
	}
	dir := t.TempDir()
	scaling := filepath.Join(dir, "scaling.md")
	require.NoError(t, os.WriteFile(scaling, []byte("# Capacity\n\nbefore\n"+scalingBegin+"\nold\n"+scalingEnd+"\nafter\n"), 0o644))
	require.Equal(t, 0, writeOutputs(res, dir, dir, scaling, ""))

	md, err := os.ReadFile(filepath.Join(dir, "benchmarks.md"))
	require.NoError(t, err)
	doc := string(md)
	for _, want := range []string{
		"```sh\ngo run ./internal/benchsuite\n```", "Test CPU <x> × 2", "PostgreSQL 15.1",
		"| PostgreSQL + Redis | 5,000 | 7,000 | 2,100 | 420 | 880 | 0.30 |",    // engine row
		"| embedded (SQLite + in-process Redis) | 5,000 | 1,200 | 2,000 | — |", // missing metric shown as —
		"other metrics reported: 5.00 renamed/s",                               // unexpected metric kept
		"did not report \"runs/s\"",                                            // and warned about
		"| PostgreSQL + Redis | 1 | 20,000 | 100,000 | 50.0 | **2,000** | 400 | 0.30 | 0.60 | 0.05 | 0.95 | 60.0 MB | 4.0 KB |",
		"2 worker(s): failed: 1 of 20000 runs completed",
		"| embedded (SQLite + in-process Redis) | 1 (`waymark serve`) |",
		"**failed**: `stopped after the 90m budget: …`",
		"1,900 profiles/s → 1M in 8.8 min; peak RSS 40.0 MB | reference (goal is for PostgreSQL + Redis) |",
		"| `used_memory` delta ÷ runs (after a warm-up batch, so fixed costs are left out) | **640** |",
		"8.8 min", // 1M profiles at 1,900/s
		"| engine vs raw Asynq, PostgreSQL + Redis | Waymark steps/s ≥ 0.8 × Asynq no-op tasks/s | 2,100 ÷ 7,000 = 0.30 | **not met** |",
		"| timer lateness, PostgreSQL + Redis | p99 < 1 s (100,000 timers due within a minute) | p99 450 ms, 10,000 timers within 60 s; a smaller run than the goal's | **not met** |",
		"| flows | BenchmarkValidate | 5,100,000 | 3,000,000 | 40,900 |",
		"- PostgreSQL + Redis: a log line",
		"- something odd",
		// the flow benchmark: figures beside the goals, ratios to the baseline, verdicts
		"| accepted req/s (32 concurrent senders) | **4,000** | **2,500** | ≥ 3,500 | **700** |  |",
		"| deliveries/s (first request → last delivery) | **2,000** | **500** | ≥ 1,600 | **900** | ≥ 800 |",
		"| CPU ms per request: PostgreSQL (every process of the postgres user) | — | 0.80 |  | — |  |",
		"| CPU ms per request: all processes | **0.20** | **1.50** | ≤ 0.8 | **0.90** | ≤ 1 |",
		"| … of which the backends serving this waymark's connections | — | 0.50 (12 backends) |  | — |  |",
		"| CPU ms per request: the senders and the sink (the suite's own process, not in the total) | — | 0.30 |  | — |  |",
		"| `outbox` | 1.50 | 0.00 | 0.00 | 1.50 |\n| `runs` | 1.00 | 1.50 | 0.50 | 0.00 |\n| all tables | 2.50 | 1.50 | | 1.50 |",
		"| lost / duplicated (by webhook-id at the sink) / unexpected | 0 / 0 / 0 | 0 / 0 / 0 | 0 / 0 / 0 | 1 / 2 / 0 | 0 / 0 / 0 |",
		"| deliveries/s ÷ baseline's | 1 | 0.25 × |  | 0.45 × |  |",
		"| CPU per request ÷ baseline's | 1 | 7.50 × |  | 4.50 × |  |",
		"| CPU profile of the server under load | — | `flow-postgres.pprof` |  | — |  |",
		"| flow deliveries, PostgreSQL + Redis (webhook → condition → send_webhook, `waymark serve`) | ≥ 1,600 deliveries/s for 10,000 requests | 500 deliveries/s | **not met** |",
		"| flow accept while draining, PostgreSQL + Redis | ≥ 3,500 req/s, p99 < 50 ms | 2,500 req/s, p99 60.0 ms | **not met** |",
		"| flow CPU per request, PostgreSQL + Redis (all processes) | ≤ 0.8 ms | 1.50 ms | **not met** |",
		"| flow: nothing lost or duplicated, PostgreSQL + Redis | 0 lost, 0 duplicated (by webhook-id at the sink) | 5,000 of 5,000 delivered; 0 lost, 0 duplicated, 0 unexpected | met |",
		"- waymark serve, embedded (SQLite + in-process Redis): **failed**: `no delivery for 1m0s: 4999 of 5000 delivered`",
	} {
		require.Contains(t, doc, want)
	}
	require.NotContains(t, doc, "<no value>")
	require.NotContains(t, doc, "Quick run")
	require.NotContains(t, doc, "flow deliveries, embedded", "a failed run is not judged against the goals")
	require.NotContains(t, doc, "| `journeys` |", "the setup's writes are not per-request costs")
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "|") {
			require.True(t, strings.HasSuffix(line, "|"), "table row ends with |: %q", line)
		}
	}

	svg, err := os.ReadFile(filepath.Join(dir, "benchmarks.svg"))
	require.NoError(t, err)
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := dec.Token(); err != nil {
			require.Equal(t, "EOF", err.Error(), "the SVG is well-formed XML")
			break
		}
	}
	require.Contains(t, string(svg), "1 × waymark worker, PostgreSQL + Redis")
	require.Contains(t, string(svg), "Test CPU &lt;x&gt;")

	sc, err := os.ReadFile(scaling)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(sc), "# Capacity\n\nbefore\n"+scalingBegin+"\n"))
	require.True(t, strings.HasSuffix(string(sc), scalingEnd+"\nafter\n"))
	require.NotContains(t, string(sc), "\nold\n")
	require.Contains(t, string(sc), "| Redis memory, one run waiting in a delay per profile (measured bytes per waiting run × profiles) | 6.0 GB | 59.6 GB |")
	require.Contains(t, string(sc), "| worker processes at the measured one-process rate (2,000 steps/s) | 1 | 5 |")
	require.NotContains(t, string(sc), "<no value>")

	// A scaling.md without the markers is an error, not a silent no-op.
	bare := filepath.Join(dir, "bare.md")
	require.NoError(t, os.WriteFile(bare, []byte("# no markers\n"), 0o644))
	require.Error(t, replaceBlock(bare, "x"))
}

func TestMergeResults(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	prev := &Results{Started: t0, Command: "go run ./internal/benchsuite", Sizes: Sizes{Entries: 5000, Profiles: 1000000, ScaleRuns: 20000, WaitingRuns: 20000},
		Benchmarks:  []BenchResult{{Key: "engine", Mode: modePostgres, Metrics: map[string]float64{"steps/s": 1}}, {Key: "segment", Mode: modePostgres, Err: "stopped"}},
		Scaling:     []ScalingResult{{Mode: modePostgres, Workers: 1, StepsPerSec: 1}, {Mode: modeEmbedded, Workers: 1}},
		RedisMemory: &RedisMemory{BytesPerRun: 600}, Micro: []MicroResult{{Pkg: "flows", Name: "BenchmarkValidate"}}, Warnings: []string{"old"},
		Flow: []FlowResult{{Mode: modeBaseline, DeliveriesPerSec: 1}, {Mode: modePostgres, DeliveriesPerSec: 1}}}
	cur := &Results{Started: t0.Add(time.Hour), Commands: []string{"go run ./internal/benchsuite -only segment"}, Sizes: Sizes{Entries: 1, Profiles: 50000, ScaleRuns: 1, WaitingRuns: 1},
		Benchmarks: []BenchResult{{Key: "segment", Mode: modePostgres, Metrics: map[string]float64{"profiles/s": 2}}},
		Scaling:    []ScalingResult{{Mode: modePostgres, Workers: 1, StepsPerSec: 2}}, Warnings: []string{"new"}}
	m := mergeResults(prev, cur)
	require.Equal(t, t0, m.Started)
	require.Len(t, m.Benchmarks, 2)
	require.Equal(t, "engine", m.Benchmarks[0].Key, "report order")
	require.InDelta(t, 2, m.Benchmarks[1].Metrics["profiles/s"], 0)
	require.Len(t, m.Scaling, 2)
	require.InDelta(t, 2, m.Scaling[0].StepsPerSec, 0)
	require.InDelta(t, 600, m.RedisMemory.BytesPerRun, 0)
	require.Len(t, m.Micro, 1)
	require.Equal(t, []string{"old", "new"}, m.Warnings)
	require.Equal(t, []string{"go run ./internal/benchsuite", "go run ./internal/benchsuite -only segment"}, m.Commands)
	require.Equal(t, Sizes{Entries: 5000, Profiles: 50000, ScaleRuns: 1, WaitingRuns: 20000}, m.Sizes)
	require.Len(t, m.Flow, 2, "flow runs not redone are kept")

	cur.Flow = []FlowResult{{Mode: modePostgres, DeliveriesPerSec: 2}}
	cur.Sizes.FlowRequests = 300
	m = mergeResults(prev, cur)
	require.Len(t, m.Flow, 2)
	byMode := map[string]float64{}
	for _, f := range m.Flow {
		byMode[f.Mode] = f.DeliveriesPerSec
	}
	require.Equal(t, map[string]float64{modePostgres: 2, modeBaseline: 1}, byMode, "a re-run mode replaces its old result")
	require.Equal(t, 300, m.Sizes.FlowRequests)

	// Runs: results from before runs were recorded become one run; a merge
	// renders the runs, each with its own load, instead of one date.
	prev.Machine = Machine{Load: "0.5 0.5 0.5", Commit: "old"}
	prev.Finished = t0.Add(10 * time.Minute)
	cur.Machine = Machine{Load: "9.0 8.0 7.0", Commit: "new"}
	cur.Runs = []RunInfo{{Command: "go run ./internal/benchsuite -only flow -merge", Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + 3*time.Minute), Load: "9.0 8.0 7.0", Commit: "new", Parts: []string{"flow"}}}
	m = mergeResults(prev, cur)
	require.Len(t, m.Runs, 2)
	require.Equal(t, RunInfo{Command: "go run ./internal/benchsuite", Started: t0, Finished: t0.Add(10 * time.Minute), Load: "0.5 0.5 0.5", Commit: "old"}, m.Runs[0])
	dir := t.TempDir()
	scaling := filepath.Join(dir, "scaling.md")
	require.NoError(t, os.WriteFile(scaling, []byte(scalingBegin+"\n"+scalingEnd+"\n"), 0o644))
	require.Equal(t, 0, writeOutputs(m, dir, dir, scaling, ""))
	md, err := os.ReadFile(filepath.Join(dir, "benchmarks.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "Measured in 2 runs, merged")
	require.Contains(t, string(md), "| 2026-11-26 01:00 UTC | 10m0s | `old` | 0.5 0.5 0.5 | all | `go run ./internal/benchsuite` |")
	require.Contains(t, string(md), "| 2026-11-26 02:00 UTC | 3m0s | `new` | 9.0 8.0 7.0 | flow | `go run ./internal/benchsuite -only flow -merge` |")
	require.NotContains(t, string(md), "| load average at start | 9.0", "one load for all the figures would be wrong")
	sc, err := os.ReadFile(scaling)
	require.NoError(t, err)
	require.Contains(t, string(sc), "load average at start 0.5 0.5 0.5", "scaling.md gives the load of the run that measured scaling")
}

// TestSinkCounts checks the flow benchmark's sink: one delivery per
// expected entry, a repeated webhook-id is a duplicate, and a bad
// signature, an entry that should not arrive or a second webhook-id for
// one entry are unexpected.
func TestSinkCounts(t *testing.T) {
	t.Parallel()
	secret := newWebhookSecret()
	sk, err := newSink(secret)
	require.NoError(t, err)
	t.Cleanup(sk.close)
	key, err := webhook.DecodeSecret(secret)
	require.NoError(t, err)
	sk.expect("a")
	sk.expect("b")
	sk.forbid("c")
	sk.reset()
	post := func(id, entry string, sign bool) {
		body := []byte(`{"entry": "` + entry + `"}`)
		ts := time.Now().Unix()
		req, err := http.NewRequest("POST", sk.url, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		sig := webhook.Sign(key, id, ts, body)
		if !sign {
			sig = webhook.Sign([]byte("another key, another signature!!"), id, ts, body)
		}
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
	}
	post("m1", "a", true)
	post("m1", "a", true)  // the same delivery again
	post("m2", "a", true)  // a second delivery for one entry
	post("m3", "c", true)  // an entry that did not pass
	post("m4", "b", false) // a bad signature
	st := sk.snapshot()
	require.Equal(t, 1, st.delivered)
	require.Equal(t, 1, st.duplicates)
	require.Equal(t, 3, st.unexpected)
	require.Equal(t, 2, sk.expectedCount())
	post("m5", "b", true)
	require.Equal(t, 2, sk.snapshot().delivered)
	require.False(t, sk.snapshot().lastAt.IsZero())
}
