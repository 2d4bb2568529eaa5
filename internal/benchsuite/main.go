// Command benchsuite is `make bench`: it runs Waymark's benchmarks on the
// machine at hand, against real PostgreSQL and Redis and in embedded mode
// (SQLite + in-process Redis), bounded in time, and writes the results to
// docs/benchmarks.md (with the exact command), docs/benchmarks.svg (a bar
// chart) and the measured block of docs/scaling.md.
//
//	go run ./internal/benchsuite                 # full run, writes docs/
//	go run ./internal/benchsuite -quick          # small sizes: checks the runner, writes to a temp dir
//	go run ./internal/benchsuite -render         # re-render docs/ from internal/benchsuite/results.json
//
// PostgreSQL and Redis come from -pg / -redis, else WAYMARK_BENCH_DATABASE_URL
// / WAYMARK_BENCH_REDIS_URL, else WAYMARK_TEST_DATABASE_URL /
// WAYMARK_TEST_REDIS_URL; without them only embedded mode runs. The suite
// creates (and drops) its own schemas in that database, and flushes Redis
// logical databases 9, 10, 11 and 14 of that server (use one nothing else needs).
// No benchmark is a test's pass/fail: a failure is reported, the rest run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	modePostgres = "postgres"
	modeEmbedded = "embedded"
)

// Sizes are the workload sizes; every one is a flag.
type Sizes struct {
	Entries            int    `json:"entries"`              // BenchmarkEngineVsAsynq runs
	Requests           int    `json:"requests"`             // BenchmarkWebhookIngest requests
	Rate               int    `json:"rate"`                 // its fixed rate for p50/p99
	Timers             int    `json:"timers"`               // BenchmarkTimerLateness delays
	TimerWindowSeconds int    `json:"timer_window_seconds"` // … due within this window
	Profiles           int    `json:"profiles"`             // BenchmarkSegmentEntry profiles
	ScaleRuns          int    `json:"scale_runs"`           // runs per worker-scaling point
	ScaleWorkers       []int  `json:"scale_workers"`        // worker process counts
	Concurrency        int    `json:"concurrency"`          // WAYMARK_WORKER_CONCURRENCY of each worker
	WaitingRuns        int    `json:"waiting_runs"`         // runs parked in a delay for the Redis memory measure
	MicroTime          string `json:"micro_time"`           // -benchtime of the micro-benchmarks
	FlowRequests       int    `json:"flow_requests"`        // flow benchmark: signed requests
	FlowSenders        int    `json:"flow_senders"`         // … from this many concurrent senders
}

var fullSizes = Sizes{Entries: 20000, Requests: 10000, Rate: 1000, Timers: 100000, TimerWindowSeconds: 60, Profiles: 1000000,
	ScaleRuns: 20000, ScaleWorkers: []int{1, 2, 4}, Concurrency: 10, WaitingRuns: 20000, MicroTime: "1s", FlowRequests: 10000, FlowSenders: 32}

var quickSizes = Sizes{Entries: 300, Requests: 300, Rate: 200, Timers: 200, TimerWindowSeconds: 5, Profiles: 2000,
	ScaleRuns: 600, ScaleWorkers: []int{1, 2, 4}, Concurrency: 10, WaitingRuns: 1000, MicroTime: "100ms", FlowRequests: 300, FlowSenders: 32}

type suite struct {
	root, tmp       string
	pgURL, redisURL string
	sizes           Sizes
	budget          time.Duration
	only            map[string]bool
	testBins        map[string]string
	waymarkBin      string
	flowProfileDir  string // -flow-profile: CPU profiles of waymark under the flow load
	res             *Results
}

func main() {
	if os.Getenv(baselineListenEnv) != "" { // the flow benchmark's baseline server (baseline.go)
		os.Exit(baselineMain())
	}
	os.Exit(run())
}

func run() int {
	quick := flag.Bool("quick", false, "small sizes, to check the runner itself (a few minutes); writes to a temp dir unless -out is given")
	render := flag.Bool("render", false, "do not run anything: re-render the docs from -results")
	out := flag.String("out", "", "directory for benchmarks.md and benchmarks.svg (default docs/, or a temp dir with -quick)")
	scalingDoc := flag.String("scaling", "", "scaling.md whose measured block is rewritten (default docs/scaling.md; none with -quick)")
	resultsPath := flag.String("results", "internal/benchsuite/results.json", "where the raw results are written (and read by -render)")
	pg := flag.String("pg", firstEnv("WAYMARK_BENCH_DATABASE_URL", "WAYMARK_TEST_DATABASE_URL"), "PostgreSQL URL (the suite makes its own schemas)")
	rd := flag.String("redis", firstEnv("WAYMARK_BENCH_REDIS_URL", "WAYMARK_TEST_REDIS_URL"), "Redis URL (logical databases 9, 10, 11 and 14 are flushed)")
	only := flag.String("only", "", "comma-separated parts to run: flow, engine, ingest, timers, segment, scaling, memory, micro (default: all)")
	merge := flag.Bool("merge", false, "keep the parts of -results this run does not redo (with -only: re-run some parts, keep the rest)")
	budget := flag.Duration("budget", 0, "time limit for each benchmark process (default 90m, 5m with -quick)")
	def := fullSizes
	sz := &Sizes{}
	flag.IntVar(&sz.Entries, "entries", 0, fmt.Sprintf("engine benchmark entries (default %d)", def.Entries))
	flag.IntVar(&sz.Requests, "requests", 0, fmt.Sprintf("webhook ingest requests (default %d)", def.Requests))
	flag.IntVar(&sz.Rate, "rate", 0, fmt.Sprintf("webhook ingest fixed rate for p50/p99, req/s (default %d)", def.Rate))
	flag.IntVar(&sz.Timers, "timers", 0, fmt.Sprintf("timer-lateness delays (default %d)", def.Timers))
	flag.IntVar(&sz.TimerWindowSeconds, "timer-window", 0, fmt.Sprintf("timer-lateness window, seconds (default %d)", def.TimerWindowSeconds))
	flag.IntVar(&sz.Profiles, "profiles", 0, fmt.Sprintf("segment-entry profiles (default %d)", def.Profiles))
	flag.IntVar(&sz.ScaleRuns, "scale-runs", 0, fmt.Sprintf("runs per worker-scaling point (default %d)", def.ScaleRuns))
	workers := flag.String("workers", "", "worker process counts for the scaling runs (default 1,2,4)")
	flag.IntVar(&sz.Concurrency, "concurrency", 0, fmt.Sprintf("WAYMARK_WORKER_CONCURRENCY of each worker (default %d)", def.Concurrency))
	flag.IntVar(&sz.WaitingRuns, "waiting", 0, fmt.Sprintf("runs parked in a delay for the Redis memory measure (default %d)", def.WaitingRuns))
	flag.IntVar(&sz.FlowRequests, "flow-requests", 0, fmt.Sprintf("flow benchmark: signed webhook requests (default %d)", def.FlowRequests))
	flag.IntVar(&sz.FlowSenders, "flow-senders", 0, fmt.Sprintf("flow benchmark: concurrent senders (default %d)", def.FlowSenders))
	flowProfile := flag.String("flow-profile", "", "directory for CPU profiles of waymark during the flow benchmark (flow-<mode>.pprof and -top.txt; default none)")
	flag.Parse()

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 2
	}
	if !filepath.IsAbs(*resultsPath) {
		*resultsPath = filepath.Join(root, *resultsPath)
	}
	if *render {
		var res Results
		b, err := os.ReadFile(*resultsPath)
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchsuite: reading results:", err)
			return 1
		}
		return writeOutputs(&res, root, orDefault(*out, filepath.Join(root, "docs")), orDefault(*scalingDoc, filepath.Join(root, "docs", "scaling.md")), "")
	}

	if *quick {
		def = quickSizes
	}
	sizes := mergeSizes(def, *sz)
	if *workers != "" {
		sizes.ScaleWorkers = nil
		for _, f := range strings.Split(*workers, ",") {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "benchsuite: -workers: bad count %q\n", f)
				return 2
			}
			sizes.ScaleWorkers = append(sizes.ScaleWorkers, n)
		}
	}
	if *budget == 0 {
		*budget = 90 * time.Minute
		if *quick {
			*budget = 5 * time.Minute
		}
	}
	outDir, scaling := *out, *scalingDoc
	if outDir == "" {
		if *quick {
			outDir = filepath.Join(os.TempDir(), "waymark-bench")
		} else {
			outDir = filepath.Join(root, "docs")
		}
	}
	if scaling == "" && !*quick {
		scaling = filepath.Join(root, "docs", "scaling.md")
	}
	tmp, err := os.MkdirTemp("", "waymark-benchsuite")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	s := &suite{root: root, tmp: tmp, pgURL: *pg, redisURL: *rd, sizes: sizes, budget: *budget, testBins: map[string]string{}}
	if *flowProfile != "" {
		if s.flowProfileDir, err = filepath.Abs(*flowProfile); err != nil {
			fmt.Fprintln(os.Stderr, "benchsuite: -flow-profile:", err)
			return 2
		}
	}
	if *only != "" {
		s.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			s.only[strings.TrimSpace(p)] = true
		}
	}
	s.res = &Results{Quick: *quick, Sizes: sizes, Started: time.Now().UTC(), Command: commandLine(), Commands: []string{commandLine()}}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.runAll(ctx)
	s.res.Finished = time.Now().UTC()
	took := s.res.Finished.Sub(s.res.Started)
	var parts []string
	for p := range s.only {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	s.res.Runs = []RunInfo{{Command: s.res.Command, Started: s.res.Started, Finished: s.res.Finished, Load: s.res.Machine.Load, Commit: s.res.Machine.Commit, Parts: parts}}
	if *merge {
		var prev Results
		b, err := os.ReadFile(*resultsPath)
		if err == nil {
			err = json.Unmarshal(b, &prev)
		}
		if err != nil {
			s.warn("-merge: reading %s: %v (nothing merged)", *resultsPath, err)
		} else {
			s.res = mergeResults(&prev, s.res)
		}
	}

	if b, err := json.MarshalIndent(s.res, "", "  "); err == nil {
		if *quick && *out == "" {
			*resultsPath = filepath.Join(outDir, "results.json")
		}
		_ = os.MkdirAll(filepath.Dir(*resultsPath), 0o755)
		if err := os.WriteFile(*resultsPath, append(b, '\n'), 0o644); err != nil {
			s.warn("writing %s: %v", *resultsPath, err)
		}
	}
	code := writeOutputs(s.res, root, outDir, scaling, *resultsPath)
	s.logf("done in %s", took.Round(time.Second))
	return code
}

func (s *suite) want(part string) bool { return s.only == nil || s.only[part] }

func (s *suite) runAll(ctx context.Context) {
	s.res.Machine = describeMachine(ctx, s.pgURL, s.redisURL)
	s.logf("benchsuite on %s × %d; %s; %s", s.res.Machine.CPU, s.res.Machine.Cores, orDefault(s.res.Machine.Postgres, "PostgreSQL not configured"), orDefault(s.res.Machine.Redis, "Redis not configured"))
	haveServices := s.pgURL != "" && s.redisURL != ""
	if !haveServices {
		s.warn("PostgreSQL + Redis not configured (-pg/-redis, WAYMARK_BENCH_* or WAYMARK_TEST_*): only embedded mode ran")
	}
	if s.want("flow") && ctx.Err() == nil {
		s.runFlow(ctx, haveServices)
	}
	for _, gb := range goBenches() {
		if !s.want(gb.Key) {
			continue
		}
		for _, mode := range gb.Modes {
			if ctx.Err() != nil {
				return
			}
			if mode == modePostgres && !haveServices {
				continue
			}
			s.res.Benchmarks = append(s.res.Benchmarks, s.runGoBench(ctx, gb, mode))
		}
	}
	if s.want("scaling") && ctx.Err() == nil {
		s.runScaling(ctx, haveServices)
	}
	if s.want("memory") && ctx.Err() == nil && haveServices {
		s.runRedisMemory(ctx)
	}
	if s.want("micro") && ctx.Err() == nil {
		for _, pkg := range microPkgs {
			s.res.Micro = append(s.res.Micro, s.runMicro(ctx, pkg)...)
		}
	}
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (s *suite) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.res.Warnings = append(s.res.Warnings, msg)
	s.logf("WARNING: %s", msg)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mergeSizes takes each non-zero field of override over def.
func mergeSizes(def, o Sizes) Sizes {
	pick := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	return Sizes{Entries: pick(o.Entries, def.Entries), Requests: pick(o.Requests, def.Requests), Rate: pick(o.Rate, def.Rate),
		Timers: pick(o.Timers, def.Timers), TimerWindowSeconds: pick(o.TimerWindowSeconds, def.TimerWindowSeconds),
		Profiles: pick(o.Profiles, def.Profiles), ScaleRuns: pick(o.ScaleRuns, def.ScaleRuns), ScaleWorkers: def.ScaleWorkers,
		Concurrency: pick(o.Concurrency, def.Concurrency), WaitingRuns: pick(o.WaitingRuns, def.WaitingRuns), MicroTime: def.MicroTime,
		FlowRequests: pick(o.FlowRequests, def.FlowRequests), FlowSenders: pick(o.FlowSenders, def.FlowSenders)}
}

// commandLine is how this run was started, for the report.
func commandLine() string {
	args := os.Args[1:]
	cmd := "go run ./internal/benchsuite"
	if len(args) > 0 {
		cmd += " " + strings.Join(args, " ")
	}
	return cmd
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s: run from the Waymark module", dir)
		}
	}
}

// mergeResults keeps what prev measured and cur did not redo: benchmarks by
// key and mode, the scaling points by mode and worker count, the Redis
// memory measure and the micro-benchmarks by package. The machine, sizes and
// command are cur's; the dates span both runs.
func mergeResults(prev, cur *Results) *Results {
	out := *cur
	if prev.Started.Before(cur.Started) && !prev.Started.IsZero() {
		out.Started = prev.Started
	}
	have := map[string]bool{}
	for _, b := range cur.Benchmarks {
		have[b.Key+"/"+b.Mode] = true
	}
	for _, b := range prev.Benchmarks {
		if !have[b.Key+"/"+b.Mode] {
			out.Benchmarks = append(out.Benchmarks, b)
		}
	}
	order := map[string]int{}
	for i, gb := range goBenches() {
		order[gb.Key] = i
	}
	sort.SliceStable(out.Benchmarks, func(i, j int) bool { return order[out.Benchmarks[i].Key] < order[out.Benchmarks[j].Key] })
	point := func(s ScalingResult) string { return fmt.Sprintf("%s/%d", s.Mode, s.Workers) }
	seen := map[string]bool{}
	for _, s := range cur.Scaling {
		seen[point(s)] = true
	}
	for _, s := range prev.Scaling {
		if !seen[point(s)] {
			out.Scaling = append(out.Scaling, s)
		}
	}
	if out.RedisMemory == nil {
		out.RedisMemory = prev.RedisMemory
	}
	flowModes := map[string]bool{}
	for _, f := range cur.Flow {
		flowModes[f.Mode] = true
	}
	for _, f := range prev.Flow {
		if !flowModes[f.Mode] {
			out.Flow = append(out.Flow, f)
		}
	}
	pkgs := map[string]bool{}
	for _, m := range cur.Micro {
		pkgs[m.Pkg] = true
	}
	for _, m := range prev.Micro {
		if !pkgs[m.Pkg] {
			out.Micro = append(out.Micro, m)
		}
	}
	out.Warnings = append(append([]string{}, prev.Warnings...), cur.Warnings...)
	prevCmds := prev.Commands
	if len(prevCmds) == 0 && prev.Command != "" {
		prevCmds = []string{prev.Command}
	}
	out.Commands = append(append([]string{}, prevCmds...), cur.Commands...)
	prevRuns := prev.Runs
	if len(prevRuns) == 0 { // results from before runs were recorded
		if len(prevCmds) <= 1 {
			prevRuns = []RunInfo{{Command: strings.Join(prevCmds, ""), Started: prev.Started, Finished: prev.Finished, Load: prev.Machine.Load, Commit: prev.Machine.Commit}}
		} else {
			for _, c := range prevCmds {
				prevRuns = append(prevRuns, RunInfo{Command: c})
			}
		}
	}
	out.Runs = append(append([]RunInfo{}, prevRuns...), cur.Runs...)
	out.Sizes = mergeSizeRecords(prev.Sizes, cur.Sizes, have)
	if len(cur.Scaling) == 0 {
		out.Sizes.ScaleRuns, out.Sizes.ScaleWorkers, out.Sizes.Concurrency = prev.Sizes.ScaleRuns, prev.Sizes.ScaleWorkers, prev.Sizes.Concurrency
	}
	if cur.RedisMemory == nil {
		out.Sizes.WaitingRuns = prev.Sizes.WaitingRuns
	}
	if len(cur.Micro) == 0 {
		out.Sizes.MicroTime = prev.Sizes.MicroTime
	}
	if len(cur.Flow) == 0 {
		out.Sizes.FlowRequests, out.Sizes.FlowSenders = prev.Sizes.FlowRequests, prev.Sizes.FlowSenders
	}
	return &out
}

// mergeSizeRecords keeps prev's sizes for the parts that were not re-run.
func mergeSizeRecords(prev, cur Sizes, rerun map[string]bool) Sizes {
	out := cur
	if !rerun["engine/"+modePostgres] && !rerun["engine/"+modeEmbedded] {
		out.Entries = prev.Entries
	}
	if !rerun["ingest/"+modePostgres] && !rerun["ingest/"+modeEmbedded] {
		out.Requests, out.Rate = prev.Requests, prev.Rate
	}
	if !rerun["timers/"+modePostgres] && !rerun["timers/"+modeEmbedded] {
		out.Timers, out.TimerWindowSeconds = prev.Timers, prev.TimerWindowSeconds
	}
	if !rerun["segment/"+modePostgres] && !rerun["segment/"+modeEmbedded] {
		out.Profiles = prev.Profiles
	}
	return out
}
