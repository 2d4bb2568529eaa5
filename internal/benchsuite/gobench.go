package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchLine is one result line of `go test -bench` output:
//
//	BenchmarkEngineVsAsynq-2   1   5234567890 ns/op   7012 asynq_noop_tasks/s   2101 steps/s …
type benchLine struct {
	Name    string // without the -GOMAXPROCS suffix; sub-benchmarks keep their /path
	Procs   int
	N       int
	Metrics map[string]float64 // unit → value, ns/op, B/op and allocs/op included
	Order   []string           // units in the order printed
}

// parseBenchOutput reads benchmark result lines and the b.Log lines under
// them (indented "file.go:123: text"), tolerating anything else.
func parseBenchOutput(out string) (lines []benchLine, logs []string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		t := strings.TrimSpace(raw)
		if strings.HasPrefix(t, "Benchmark") {
			if bl, ok := parseBenchLine(t); ok {
				lines = append(lines, bl)
				continue
			}
		}
		if raw != t && strings.Contains(t, "_test.go:") { // b.Logf output
			if _, msg, ok := strings.Cut(t, ": "); ok {
				logs = append(logs, msg)
			}
		}
	}
	return lines, logs
}

func parseBenchLine(t string) (benchLine, bool) {
	f := strings.Fields(t)
	if len(f) < 2 {
		return benchLine{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return benchLine{}, false // e.g. "BenchmarkX" alone (a header before sub-benchmarks)
	}
	bl := benchLine{Name: f[0], N: n, Metrics: map[string]float64{}}
	if i := strings.LastIndex(f[0], "-"); i > 0 {
		if p, err := strconv.Atoi(f[0][i+1:]); err == nil {
			bl.Name, bl.Procs = f[0][:i], p
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			i-- // not a value: resynchronise on the next field
			continue
		}
		bl.Metrics[f[i+1]] = v
		bl.Order = append(bl.Order, f[i+1])
	}
	return bl, true
}

// procResult is what the kernel says about a finished child process.
type procResult struct {
	Wall       time.Duration
	CPUSeconds float64 // user + system
	MaxRSSMB   float64
	Output     string
	Err        error
}

// runProcess runs a command to completion with a time budget and returns
// its rusage (peak RSS and CPU time of that process, as wait4 reports it).
func runProcess(ctx context.Context, budget time.Duration, dir string, env []string, name string, args ...string) procResult {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 10 * time.Second
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	r := procResult{Wall: time.Since(start), Output: out.String(), Err: err}
	if ctx.Err() == context.DeadlineExceeded {
		r.Err = fmt.Errorf("stopped after the %s budget", budget)
	}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
		r.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	return r
}

// buildTestBinary compiles a package's tests once, so that each benchmark
// runs as its own process (its rusage is the benchmark's, not go test's).
func (s *suite) buildTestBinary(pkg string) (string, error) {
	if p, ok := s.testBins[pkg]; ok {
		return p, nil
	}
	out := filepath.Join(s.tmp, strings.ReplaceAll(pkg, "/", "_")+".test")
	cmd := exec.Command("go", "test", "-c", "-o", out, "./"+pkg)
	cmd.Dir = s.root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c ./%s: %v: %s", pkg, err, b)
	}
	s.testBins[pkg] = out
	return out, nil
}

// benchEnv is the environment for a benchmark process in a mode: the
// WAYMARK_TEST_* services for "postgres", none for "embedded"; CI is
// dropped (a missing service must not fail a benchmark).
func (s *suite) benchEnv(mode string, extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "CI", strings.HasPrefix(k, "WAYMARK_TEST_"), strings.HasPrefix(k, "WAYMARK_BENCH_"):
			continue
		}
		env = append(env, kv)
	}
	if mode == modePostgres {
		env = append(env, "WAYMARK_TEST_DATABASE_URL="+s.pgURL, "WAYMARK_TEST_REDIS_URL="+s.redisURL)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// runGoBench runs one benchmark in one mode and collects its metrics.
func (s *suite) runGoBench(ctx context.Context, gb goBench, mode string) BenchResult {
	res := BenchResult{Key: gb.Key, Name: gb.Name, Pkg: gb.Pkg, Mode: mode, Metrics: map[string]float64{}}
	bin, err := s.buildTestBinary(gb.Pkg)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	extra := gb.Env(s.sizes, mode)
	if gb.Key == "segment" && mode == modePostgres {
		url, drop, err := s.freshSchema(ctx)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		defer drop()
		extra["WAYMARK_BENCH_DATABASE_URL"] = url
	}
	res.Env = map[string]string{}
	for k, v := range extra {
		if k == "WAYMARK_BENCH_DATABASE_URL" {
			v = "(a fresh schema in the benchmark database)" // no credentials in results.json
		}
		res.Env[k] = v
	}
	s.logf("  %s (%s) …", gb.Name, mode)
	pr := runProcess(ctx, s.budget, filepath.Join(s.root, gb.Pkg), s.benchEnv(mode, extra), bin,
		"-test.run", "^$", "-test.bench", "^"+gb.Name+"$", "-test.benchtime", "1x", "-test.timeout", "0")
	res.Wall, res.CPUSeconds, res.MaxRSSMB = pr.Wall.Seconds(), pr.CPUSeconds, pr.MaxRSSMB
	lines, logs := parseBenchOutput(pr.Output)
	res.Logs = logs
	for _, l := range lines {
		if l.Name == gb.Name {
			for k, v := range l.Metrics {
				res.Metrics[k] = v
			}
		}
	}
	if pr.Err != nil || len(lines) == 0 {
		res.Err = fmt.Sprintf("%v: %s", pr.Err, lastLines(pr.Output, 15))
	}
	for _, m := range gb.Metrics {
		if _, ok := res.Metrics[m]; !ok && res.Err == "" {
			res.Missing = append(res.Missing, m)
		}
	}
	s.logf("    %s in %.0fs, %s", gb.Name, res.Wall, summarize(res.Metrics, gb.Metrics))
	return res
}

// runMicro runs a package's micro-benchmarks with -benchmem.
func (s *suite) runMicro(ctx context.Context, pkg string) []MicroResult {
	if _, err := os.Stat(filepath.Join(s.root, pkg)); err != nil {
		return nil
	}
	bin, err := s.buildTestBinary(pkg)
	if err != nil {
		s.warn("micro-benchmarks in %s: %v", pkg, err)
		return nil
	}
	s.logf("  micro-benchmarks in %s …", pkg)
	pr := runProcess(ctx, s.budget, filepath.Join(s.root, pkg), s.benchEnv(modeEmbedded, nil), bin,
		"-test.run", "^$", "-test.bench", ".", "-test.benchmem", "-test.benchtime", s.sizes.MicroTime, "-test.timeout", "0")
	lines, _ := parseBenchOutput(pr.Output)
	if pr.Err != nil {
		s.warn("micro-benchmarks in %s: %v: %s", pkg, pr.Err, lastLines(pr.Output, 5))
	}
	var out []MicroResult
	for _, l := range lines {
		out = append(out, MicroResult{Pkg: pkg, Name: l.Name, Metrics: l.Metrics, Order: l.Order})
	}
	return out
}

func summarize(m map[string]float64, order []string) string {
	var parts []string
	for _, k := range order {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", fmtNum(v), k))
		}
	}
	return strings.Join(parts, ", ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
