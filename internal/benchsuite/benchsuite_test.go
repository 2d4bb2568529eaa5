package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	} {
		require.Contains(t, doc, want)
	}
	require.NotContains(t, doc, "<no value>")
	require.NotContains(t, doc, "Quick run")
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
		RedisMemory: &RedisMemory{BytesPerRun: 600}, Micro: []MicroResult{{Pkg: "flows", Name: "BenchmarkValidate"}}, Warnings: []string{"old"}}
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
}
