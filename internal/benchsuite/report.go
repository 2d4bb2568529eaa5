package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed benchmarks.md.tmpl
var benchmarksTemplate string

//go:embed scaling.md.tmpl
var scalingTemplate string

// Markers around the generated block of docs/scaling.md.
const (
	scalingBegin = "<!-- benchsuite:begin -->"
	scalingEnd   = "<!-- benchsuite:end -->"
)

// writeOutputs renders benchmarks.md and benchmarks.svg into outDir and,
// if scalingPath is set, the measured block of scaling.md.
func writeOutputs(res *Results, root, outDir, scalingPath, resultsPath string) int {
	v := newView(res)
	md, err := renderTemplate("benchmarks.md", benchmarksTemplate, v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		return 1
	}
	files := map[string][]byte{"benchmarks.md": md, "benchmarks.svg": []byte(renderSVG(v))}
	for name, b := range files {
		p := filepath.Join(outDir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchsuite:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "wrote", rel(root, p))
	}
	if resultsPath != "" {
		fmt.Fprintln(os.Stderr, "wrote", rel(root, resultsPath))
	}
	if scalingPath != "" {
		block, err := renderTemplate("scaling.md", scalingTemplate, v)
		if err == nil {
			err = replaceBlock(scalingPath, string(block))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchsuite: scaling.md:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "wrote", rel(root, scalingPath), "(measured block)")
	}
	return 0
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// replaceBlock swaps the text between the markers of a file.
func replaceBlock(path, block string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, scalingBegin), strings.Index(s, scalingEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s block", path, scalingBegin, scalingEnd)
	}
	s = s[:i+len(scalingBegin)] + "\n" + strings.TrimSpace(block) + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

func renderTemplate(name, text string, v *view) ([]byte, error) {
	t, err := template.New(name).Funcs(template.FuncMap{
		"num": fmtNum, "int": fmtInt, "ms": fmtMS, "secs": fmtSecs, "bytes": fmtBytes, "pct": func(f float64) string { return fmt.Sprintf("%.0f %%", f*100) },
		"join": strings.Join, "metric": func(b *BenchResult, k string) string { return b.metric(k) },
		"modeTitle": func(m string) string { return modeTitles[m] },
		// logLine prefixes a benchmark's log line with its mode unless it says it already.
		"logLine": func(mode, line string) string {
			if strings.HasPrefix(line, modeTitles[mode]) {
				return line
			}
			return modeTitles[mode] + ": " + line
		},
		"whole": func(x float64) string { return fmtInt(int(math.Round(x))) },
		"commas": func(s string) string {
			if n, err := strconv.Atoi(s); err == nil {
				return fmtInt(n)
			}
			return s
		},
		"oneLine": shortErr,
		"oneMillion": func(b *BenchResult) string {
			if x, ok := b.has("profiles/s"); ok && x > 0 {
				return fmtSecs(1e6 / x)
			}
			return "—"
		},
		"microExtra": func(m MicroResult) string {
			var out []string
			for _, k := range m.Order {
				if k != "ns/op" && k != "B/op" && k != "allocs/op" && k != "MB/s" {
					out = append(out, fmtNum(m.Metrics[k])+" "+k)
				}
			}
			if x, ok := m.Metrics["MB/s"]; ok {
				out = append(out, fmtNum(x)+" MB/s")
			}
			return strings.Join(out, ", ")
		},
		"cpu1k": func(r ScalingResult, part string) string {
			w, d, rd, tot := r.CPUPer1kSteps()
			switch part {
			case "waymark":
				return fmt.Sprintf("%.2f", w)
			case "postgres":
				if !r.PostgresSeen {
					return "—"
				}
				return fmt.Sprintf("%.2f", d)
			case "redis":
				if !r.RedisSeen {
					return "—"
				}
				return fmt.Sprintf("%.2f", rd)
			}
			return fmt.Sprintf("%.2f", tot)
		},
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing the %s template: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	// Collapse runs of blank lines the template's actions leave behind.
	out := buf.String()
	for strings.Contains(out, "\n\n\n") {
		out = strings.ReplaceAll(out, "\n\n\n", "\n\n")
	}
	return []byte(strings.TrimSpace(out) + "\n"), nil
}

// view is what the templates see.
type view struct {
	*Results
	Date, Duration string
	Engine         map[string]*BenchResult // by mode
	Ingest         map[string]*BenchResult
	Timers         map[string]*BenchResult
	Segment        map[string]*BenchResult
	Modes          []modeView
	Workers        []ScalingResult // PostgreSQL points, by worker count
	Embedded       *ScalingResult
	Goals          []goal
	Micro          []MicroResult
	Projections    []projection
	Bars           []bar
	Missing        []string
	MicroPkgs      []string
	Flow           map[string]*FlowResult // by mode: baseline, postgres, embedded
	FlowRows       []flowRow
	// FlowConnectorRate and RedisDBFlow are the flow benchmark's settings.
	FlowConnectorRate, RedisDBFlow int
	// Merged results: the runs, and the load at the start of the run that
	// measured the worker scaling (scaling.md's block).
	Merged      bool
	RunRows     []runRow
	ScalingLoad string
}

type runRow struct{ Started, Took, Commit, Load, Parts, Command string }

type modeView struct{ Key, Title string }

var modeTitles = map[string]string{modePostgres: "PostgreSQL + Redis", modeEmbedded: "embedded (SQLite + in-process Redis)"}

type goal struct{ What, Target, Measured, Verdict string }

type projection struct{ What, Ten, Hundred string }

type bar struct {
	Label string
	Value float64
	Kind  string // baseline, engine, scaling, embedded
}

func newView(res *Results) *view {
	v := &view{Results: res, Engine: map[string]*BenchResult{}, Ingest: map[string]*BenchResult{}, Timers: map[string]*BenchResult{}, Segment: map[string]*BenchResult{}}
	v.Date = res.Started.Format("2006-01-02 15:04 MST")
	if len(res.Commands) == 0 && res.Command != "" {
		res.Commands = []string{res.Command}
	}
	v.Duration = res.Finished.Sub(res.Started).Round(time.Second).String()
	v.Merged = len(res.Runs) > 1
	v.ScalingLoad = res.Machine.Load
	for _, r := range res.Runs {
		row := runRow{Started: "—", Took: "—", Commit: orDefault(r.Commit, "—"), Load: orDefault(r.Load, "—"), Parts: "all", Command: r.Command}
		if !r.Started.IsZero() {
			row.Started = r.Started.Format("2006-01-02 15:04 MST")
			row.Took = r.Finished.Sub(r.Started).Round(time.Second).String()
		}
		if len(r.Parts) > 0 {
			row.Parts = strings.Join(r.Parts, ", ")
		}
		v.RunRows = append(v.RunRows, row)
		if len(r.Parts) == 0 || slices.Contains(r.Parts, "scaling") {
			v.ScalingLoad = r.Load
		}
	}
	for i := range res.Benchmarks {
		b := &res.Benchmarks[i]
		switch b.Key {
		case "engine":
			v.Engine[b.Mode] = b
		case "ingest":
			v.Ingest[b.Mode] = b
		case "timers":
			v.Timers[b.Mode] = b
		case "segment":
			v.Segment[b.Mode] = b
		}
		for _, m := range b.Missing {
			v.Missing = append(v.Missing, fmt.Sprintf("%s (%s) did not report %q — renamed? The suite expects the names in internal/benchsuite/expect.go.", b.Name, b.Mode, m))
		}
	}
	for _, m := range []string{modePostgres, modeEmbedded} {
		v.Modes = append(v.Modes, modeView{m, modeTitles[m]})
	}
	for _, s := range res.Scaling {
		if s.Mode == modeEmbedded {
			s := s
			v.Embedded = &s
		} else {
			v.Workers = append(v.Workers, s)
		}
	}
	sort.Slice(v.Workers, func(i, j int) bool { return v.Workers[i].Workers < v.Workers[j].Workers })
	v.Micro = res.Micro
	v.MicroPkgs = microPkgs
	v.Flow = map[string]*FlowResult{}
	for i := range res.Flow {
		v.Flow[res.Flow[i].Mode] = &res.Flow[i]
	}
	v.FlowRows = v.flowRows()
	v.FlowConnectorRate, v.RedisDBFlow = flowConnectorRate, redisDBFlow
	v.Goals = v.goals()
	v.Projections = v.projections()
	v.Bars = v.bars()
	return v
}

// metric formats a benchmark's metric, "—" when missing.
func (b *BenchResult) metric(k string) string {
	if b == nil {
		return "—"
	}
	x, ok := b.Metrics[k]
	if !ok {
		return "—"
	}
	return fmtNum(x)
}

func (b *BenchResult) has(k string) (float64, bool) {
	if b == nil || b.Err != "" {
		return 0, false
	}
	x, ok := b.Metrics[k]
	return x, ok
}

// Extra lists metrics a benchmark reported that the suite does not expect.
func (b *BenchResult) Extra() []string {
	if b == nil {
		return nil
	}
	expected := map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true}
	for _, gb := range goBenches() {
		if gb.Key == b.Key {
			for _, m := range gb.Metrics {
				expected[m] = true
			}
		}
	}
	var out []string
	for k, x := range b.Metrics {
		if !expected[k] {
			out = append(out, fmt.Sprintf("%s %s", fmtNum(x), k))
		}
	}
	sort.Strings(out)
	return out
}

// First is the first worker-scaling point (the one-process rate).
func (v *view) First() *ScalingResult {
	for i := range v.Workers {
		if v.Workers[i].Err == "" {
			return &v.Workers[i]
		}
	}
	return nil
}

// referenceOnly is the verdict of an embedded-mode row: the goals are set
// for the production setup (PostgreSQL + Redis); embedded mode's figures
// are shown for comparison.
const referenceOnly = "reference (goal is for PostgreSQL + Redis)"

func (v *view) goals() []goal {
	var gs []goal
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	if raw, ok := v.Engine[modePostgres].has("asynq_noop_tasks/s"); ok {
		if steps, ok := v.Engine[modePostgres].has("steps/s"); ok {
			gs = append(gs, goal{"engine vs raw Asynq, PostgreSQL + Redis", "Waymark steps/s ≥ 0.8 × Asynq no-op tasks/s",
				fmt.Sprintf("%s ÷ %s = %.2f", fmtNum(steps), fmtNum(raw), steps/raw), verdict(steps/raw >= 0.8)})
		}
	}
	if rps, ok := v.Ingest[modePostgres].has("accepted_req/s"); ok {
		p99, _ := v.Ingest[modePostgres].has("p99_ms")
		gs = append(gs, goal{"webhook ingest, PostgreSQL + Redis", fmt.Sprintf("≥ 5,000 req/s; p99 < 25 ms at 1,000 req/s (measured at %s req/s)", fmtInt(v.Sizes.Rate)),
			fmt.Sprintf("%s req/s; p99 %s ms", fmtNum(rps), fmtNum(p99)), verdict(rps >= 5000 && p99 < 25 && v.Sizes.Rate >= 1000)})
	}
	for _, m := range []string{modePostgres, modeEmbedded} {
		if p99, ok := v.Timers[m].has("p99_late_ms"); ok {
			b := v.Timers[m]
			n, _ := strconv.Atoi(b.Env["WAYMARK_BENCH_TIMERS"])
			win, err := strconv.Atoi(b.Env["WAYMARK_BENCH_TIMER_WINDOW_SECONDS"])
			if err != nil {
				win = v.Sizes.TimerWindowSeconds
			}
			measured := fmt.Sprintf("p99 %s ms, %s timers within %d s", fmtNum(p99), fmtInt(n), win)
			if got, ok := b.has("timers_measured"); ok && int(got) < n {
				measured += fmt.Sprintf(" (%s waited)", fmtInt(int(got)))
			}
			full := n >= 100000 && win <= 60
			if !full {
				measured += "; a smaller run than the goal's"
			}
			v := verdict(p99 < 1000 && full)
			if m == modeEmbedded {
				v = referenceOnly
			}
			gs = append(gs, goal{"timer lateness, " + modeTitles[m], "p99 < 1 s (100,000 timers due within a minute)", measured, v})
		}
	}
	for _, m := range []string{modeEmbedded, modePostgres} {
		b := v.Segment[m]
		if b != nil && b.Err == "" {
			if rate, ok := b.has("profiles/s"); ok && rate > 0 {
				t := 1e6 / rate
				n := b.Env["WAYMARK_BENCH_PROFILES"]
				how := "1M in " + fmtSecs(t)
				if n != "1000000" {
					how = fmt.Sprintf("1M in %s (extrapolated from %s profiles)", fmtSecs(t), n)
				}
				measured := fmt.Sprintf("%s profiles/s → %s", fmtNum(rate), how)
				rss, hasRSS := b.has("peak_rss_MB")
				if hasRSS {
					measured += fmt.Sprintf("; peak RSS %s MB", fmtNum(rss))
				}
				v := verdict(t < 180 && hasRSS && rss < 300)
				if m == modeEmbedded {
					v = referenceOnly
				}
				gs = append(gs, goal{"segment entry, " + modeTitles[m], "1,000,000 profiles in < 3 min, peak RSS < 300 MB", measured, v})
			}
		}
	}
	gs = append(gs, v.flowGoals()...)
	for _, mr := range v.Micro {
		if mr.Name == "BenchmarkValidate" {
			ns := mr.Metrics["ns/op"]
			gs = append(gs, goal{"validate a 1,000-node journey", "< 5 ms", fmtMS(ns / 1e6), verdict(ns < 5e6)})
		}
	}
	return gs
}

// Load model of scaling.md: peak steps/s at 10M and 100M profiles.
const (
	peakSteps10M  = 930
	peakSteps100M = 9300
)

func (v *view) projections() []projection {
	var ps []projection
	if m := v.RedisMemory; m != nil && m.Err == "" && m.BytesPerRun > 0 {
		ps = append(ps, projection{"Redis memory, one run waiting in a delay per profile (measured bytes per waiting run × profiles)",
			fmtBytes(m.BytesPerRun * 1e7), fmtBytes(m.BytesPerRun * 1e8)})
	}
	if f := v.First(); f != nil && f.Steps > 0 {
		w, d, r, _ := f.CPUPer1kSteps()
		ps = append(ps, projection{fmt.Sprintf("Waymark worker CPU at the peak step rate (%s / %s steps/s × %.2f CPU-s per 1,000 steps)", fmtInt(peakSteps10M), fmtInt(peakSteps100M), w),
			fmtCores(w * peakSteps10M / 1000), fmtCores(w * peakSteps100M / 1000)})
		if f.PostgresSeen {
			ps = append(ps, projection{fmt.Sprintf("PostgreSQL CPU at the peak step rate (%.2f CPU-s per 1,000 steps)", d),
				fmtCores(d * peakSteps10M / 1000), fmtCores(d * peakSteps100M / 1000)})
		}
		if f.RedisSeen {
			ps = append(ps, projection{fmt.Sprintf("Redis CPU at the peak step rate (%.2f CPU-s per 1,000 steps; one core is Redis's ceiling)", r),
				fmtCores(r * peakSteps10M / 1000), fmtCores(r * peakSteps100M / 1000)})
		}
		if f.StepsPerSec > 0 {
			ps = append(ps, projection{fmt.Sprintf("worker processes at the measured one-process rate (%s steps/s)", fmtNum(f.StepsPerSec)),
				fmt.Sprintf("%.0f", math.Ceil(peakSteps10M/f.StepsPerSec)), fmt.Sprintf("%.0f", math.Ceil(peakSteps100M/f.StepsPerSec))})
		}
		if f.DBBytesPerRun > 0 {
			ps = append(ps, projection{fmt.Sprintf("PostgreSQL growth, 20 %% of profiles entering a day (%s per run of this journey)", fmtBytes(f.DBBytesPerRun)),
				fmtBytes(f.DBBytesPerRun*2e6) + " / day", fmtBytes(f.DBBytesPerRun*2e7) + " / day"})
		}
	}
	return ps
}

func (v *view) bars() []bar {
	var bs []bar
	if x, ok := v.Engine[modePostgres].has("asynq_noop_tasks/s"); ok {
		bs = append(bs, bar{"raw Asynq, no-op tasks/s (baseline)", x, "baseline"})
	}
	if x, ok := v.Engine[modePostgres].has("steps/s"); ok {
		bs = append(bs, bar{"engine benchmark, PostgreSQL + Redis", x, "engine"})
	}
	if x, ok := v.Engine[modeEmbedded].has("steps/s"); ok {
		bs = append(bs, bar{"engine benchmark, embedded", x, "embedded"})
	}
	for _, w := range v.Workers {
		if w.Err == "" {
			bs = append(bs, bar{fmt.Sprintf("%d × waymark worker, PostgreSQL + Redis", w.Workers), w.StepsPerSec, "scaling"})
		}
	}
	if e := v.Embedded; e != nil && e.Err == "" {
		bs = append(bs, bar{"waymark serve, embedded", e.StepsPerSec, "embedded"})
	}
	return bs
}

// renderSVG draws steps per second as horizontal bars.
func renderSVG(v *view) string {
	const width, left, barH, gap, top = 780, 300, 24, 10, 56
	bs := v.Bars
	height := top + len(bs)*(barH+gap) + 40
	if len(bs) == 0 {
		height = top + 40
	}
	maxV := 0.0
	for _, b := range bs {
		maxV = math.Max(maxV, b.Value)
	}
	scale := func(x float64) float64 {
		if maxV == 0 {
			return 0
		}
		return x / maxV * float64(width-left-90)
	}
	colors := map[string]string{"baseline": "#9aa5b1", "engine": "#2f6fde", "scaling": "#1f9d6b", "embedded": "#c77d1a"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="16" y="24" font-size="16" font-weight="600" fill="#1f2933">Steps per second (higher is better)</text>`+"\n")
	sub := fmt.Sprintf("%s, %d cores; %s", v.Machine.CPU, v.Machine.Cores, v.Date)
	if v.Quick {
		sub = "QUICK RUN (runner check) — " + sub
	}
	fmt.Fprintf(&b, `<text x="16" y="42" fill="#52606d">%s</text>`+"\n", html.EscapeString(sub))
	if len(bs) == 0 {
		fmt.Fprintf(&b, `<text x="16" y="%d" fill="#52606d">no step-rate measurements in this run</text>`+"\n", top+20)
	}
	for i, br := range bs {
		y := top + i*(barH+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1f2933">%s</text>`+"\n", left-10, y+barH/2+5, html.EscapeString(br.Label))
		w := scale(br.Value)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="3" fill="%s"/>`+"\n", left, y, math.Max(w, 1), barH, colors[br.Kind])
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#1f2933">%s</text>`+"\n", float64(left)+w+6, y+barH/2+5, fmtNum(br.Value))
	}
	fmt.Fprintf(&b, `<text x="16" y="%d" fill="#7b8794" font-size="11">%s</text>`+"\n", height-12,
		html.EscapeString("make bench → go run ./internal/benchsuite; journey trigger → condition → split → send → exit; see benchmarks.md"))
	b.WriteString("</svg>\n")
	return b.String()
}

// ---- number formatting ---------------------------------------------------------

// fmtNum prints a measurement with sensible precision and thousands separators.
func fmtNum(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "—"
	case math.Abs(x) >= 100:
		return fmtInt(int(math.Round(x)))
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	case math.Abs(x) >= 1:
		return fmt.Sprintf("%.2f", x)
	case x == 0:
		return "0"
	case math.Abs(x) >= 0.01:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3g", x)
	}
}

func fmtInt(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtMS(ms float64) string { return fmtNum(ms) + " ms" }

func fmtSecs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	default:
		return fmt.Sprintf("%s s", fmtNum(s))
	}
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func fmtCores(c float64) string {
	if c < 0.1 {
		return "< 0.1 core"
	}
	return fmt.Sprintf("%.1f cores", c)
}

var testLocation = regexp.MustCompile(`[\w./-]*_test\.go:\d+`)

// shortErr is an error on one line: its first line, and where in a test
// file it happened when the output has a stack.
func shortErr(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	first = strings.Join(strings.Fields(first), " ")
	if len(first) > 300 {
		first = first[:300] + "…"
	}
	if loc := testLocation.FindString(s); loc != "" {
		parts := strings.Split(loc, "/")
		if len(parts) > 2 {
			loc = strings.Join(parts[len(parts)-2:], "/")
		}
		first += " (at " + loc + ")"
	}
	return first
}
