package main

// The Go benchmarks the suite runs, and the custom metrics (b.ReportMetric
// units) it expects from each. This is the one place that knows their names:
// the benchmark files belong to the engine and UI (worker/bench_test.go,
// worker/triggers_test.go, ui/ingest_bench_test.go). A metric that does not
// come back is shown as "—" and listed under "Warnings" in benchmarks.md;
// a metric nobody expects is kept and shown too, so a rename loses nothing.

// goBench describes one Go benchmark run by the suite.
type goBench struct {
	Key     string   // short name used in results and the report
	Pkg     string   // package directory, relative to the module root
	Name    string   // the Benchmark function
	Metrics []string // units passed to b.ReportMetric, in report order
	// Env maps the suite's sizes to the variables the benchmark reads in
	// a mode (embedded mode runs some of them smaller, see embeddedCap).
	Env func(s Sizes, mode string) map[string]string
	// Modes: "postgres" (WAYMARK_TEST_DATABASE_URL + WAYMARK_TEST_REDIS_URL
	// given to the benchmark) and/or "embedded" (both unset: SQLite and the
	// in-process Redis).
	Modes []string
}

func goBenches() []goBench {
	return []goBench{
		{
			Key: "engine", Pkg: "worker", Name: "BenchmarkEngineVsAsynq",
			Metrics: []string{"asynq_noop_tasks/s", "steps/s", "runs/s", "entries/s", "ratio"},
			Env: func(s Sizes, _ string) map[string]string {
				return map[string]string{"WAYMARK_BENCH_ENTRIES": itoa(s.Entries)}
			},
			Modes: []string{modePostgres, modeEmbedded},
		},
		{
			Key: "ingest", Pkg: "ui", Name: "BenchmarkWebhookIngest",
			Metrics: []string{"accepted_req/s", "p50_ms", "p99_ms"},
			Env: func(s Sizes, _ string) map[string]string {
				return map[string]string{"WAYMARK_BENCH_REQUESTS": itoa(s.Requests), "WAYMARK_BENCH_RATE": itoa(s.Rate)}
			},
			Modes: []string{modePostgres, modeEmbedded},
		},
		{
			Key: "timers", Pkg: "worker", Name: "BenchmarkTimerLateness",
			Metrics: []string{"p50_late_ms", "p99_late_ms", "timers_measured"},
			Env: func(s Sizes, mode string) map[string]string {
				return map[string]string{"WAYMARK_BENCH_TIMERS": itoa(embeddedCap(mode, s.Timers, embeddedTimers)), "WAYMARK_BENCH_TIMER_WINDOW_SECONDS": itoa(s.TimerWindowSeconds)}
			},
			Modes: []string{modePostgres, modeEmbedded},
		},
		{
			// Reads WAYMARK_BENCH_DATABASE_URL (a fresh PostgreSQL schema made
			// by the suite) instead of WAYMARK_TEST_DATABASE_URL; tasks go to
			// WAYMARK_TEST_REDIS_URL (or the in-process Redis).
			Key: "segment", Pkg: "worker", Name: "BenchmarkSegmentEntry",
			Metrics: []string{"profiles/s", "peak_heap_MB", "peak_rss_MB"},
			Env: func(s Sizes, mode string) map[string]string {
				return map[string]string{"WAYMARK_BENCH_PROFILES": itoa(embeddedCap(mode, s.Profiles, embeddedProfiles))}
			},
			Modes: []string{modePostgres, modeEmbedded},
		},
	}
}

// Embedded mode keeps its queue in the benchmark's own memory (the
// in-process Redis): a million waiting tasks there measure that, not
// Waymark. These caps bound its timer and segment runs; PostgreSQL + Redis
// runs the full sizes.
const (
	embeddedTimers   = 10000
	embeddedProfiles = 100000
)

func embeddedCap(mode string, n, limit int) int {
	if mode == modeEmbedded {
		return min(n, limit)
	}
	return n
}

// microPkgs are the journey-model micro-benchmarks (ns/op, B/op,
// allocs/op), run with -benchmem; every Benchmark in them is reported.
var microPkgs = []string{"flows", "flows/expression"}
