package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
)

// Results is everything one run measured; results.json holds it and the
// report is rendered from it alone.
type Results struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Quick    bool      `json:"quick"`
	Command  string    `json:"command"`
	// Commands are every run merged into these results (-merge), in order.
	Commands []string `json:"commands,omitempty"`
	// Runs are the same runs with when, where and what each measured.
	Runs    []RunInfo `json:"runs,omitempty"`
	Machine Machine   `json:"machine"`
	Sizes   Sizes     `json:"sizes"`

	Flow        []FlowResult    `json:"flow,omitempty"` // the end-to-end flow benchmark (flow.go)
	Benchmarks  []BenchResult   `json:"benchmarks"`
	Scaling     []ScalingResult `json:"scaling"`
	RedisMemory *RedisMemory    `json:"redis_memory,omitempty"`
	Micro       []MicroResult   `json:"micro"`
	Warnings    []string        `json:"warnings"`
}

// RunInfo is one run of the suite: merged results (-merge) hold several,
// each part's figures coming from the last run that measured it.
type RunInfo struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Load     string    `json:"load_at_start,omitempty"`
	Commit   string    `json:"commit,omitempty"`
	Parts    []string  `json:"parts,omitempty"` // -only; empty: every part
}

// BenchResult is one Go benchmark in one mode.
type BenchResult struct {
	Key        string             `json:"key"`
	Name       string             `json:"name"`
	Pkg        string             `json:"pkg"`
	Mode       string             `json:"mode"`
	Env        map[string]string  `json:"env"`
	Metrics    map[string]float64 `json:"metrics"`
	Missing    []string           `json:"missing,omitempty"` // expected metrics that did not come back
	Logs       []string           `json:"logs,omitempty"`
	Wall       float64            `json:"wall_seconds"`
	CPUSeconds float64            `json:"cpu_seconds"` // the benchmark process, user + system
	MaxRSSMB   float64            `json:"max_rss_mb"`  // the benchmark process's peak RSS (wait4 rusage)
	Err        string             `json:"error,omitempty"`
}

// ScalingResult is one worker-scaling point: N worker processes (or one
// embedded `waymark serve`) draining pre-entered runs.
type ScalingResult struct {
	Mode          string  `json:"mode"`
	Workers       int     `json:"workers"`
	Runs          int     `json:"runs"`
	Steps         int     `json:"steps"` // ledger rows written
	Seconds       float64 `json:"seconds"`
	StepsPerSec   float64 `json:"steps_per_second"`
	RunsPerSec    float64 `json:"runs_per_second"`
	EntriesPerSec float64 `json:"entries_per_second"` // entering the runs beforehand (Engine.Enter, 16 in flight)
	WorkerCPU     float64 `json:"worker_cpu_seconds"` // all Waymark processes, user + system
	PostgresCPU   float64 `json:"postgres_cpu_seconds"`
	RedisCPU      float64 `json:"redis_cpu_seconds"`
	PostgresSeen  bool    `json:"postgres_cpu_seen"` // /proc readable for the server's processes
	RedisSeen     bool    `json:"redis_cpu_seen"`
	WorkerRSSMB   float64 `json:"worker_max_rss_mb"` // the largest worker's peak RSS
	DBBytesPerRun float64 `json:"db_bytes_per_run,omitempty"`
	Err           string  `json:"error,omitempty"`
}

// CPUPer1kSteps returns CPU-seconds per 1,000 steps for Waymark, the
// database, Redis and their sum.
func (r ScalingResult) CPUPer1kSteps() (waymark, db, redis, total float64) {
	if r.Steps == 0 {
		return
	}
	k := 1000 / float64(r.Steps)
	return r.WorkerCPU * k, r.PostgresCPU * k, r.RedisCPU * k, (r.WorkerCPU + r.PostgresCPU + r.RedisCPU) * k
}

// RedisMemory is what waiting runs cost in Redis.
type RedisMemory struct {
	Runs              int     `json:"runs"`
	UsedMemoryDelta   int64   `json:"used_memory_delta_bytes"` // INFO memory used_memory, after − before
	BytesPerRun       float64 `json:"bytes_per_run"`
	TaskKeyBytes      float64 `json:"task_key_bytes"`       // MEMORY USAGE of a task hash, mean of a sample
	ScheduledSetBytes float64 `json:"scheduled_set_bytes"`  // MEMORY USAGE of asynq:{default}:scheduled / runs
	Private           bool    `json:"private_redis_server"` // measured on a redis-server started for it
	RedisVersion      string  `json:"redis_version"`
	Err               string  `json:"error,omitempty"`
}

// MicroResult is one micro-benchmark line.
type MicroResult struct {
	Pkg     string             `json:"pkg"`
	Name    string             `json:"name"`
	Metrics map[string]float64 `json:"metrics"`
	Order   []string           `json:"order"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemoryGB float64 `json:"memory_gb"`
	OS       string  `json:"os"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
	Postgres string  `json:"postgres"`
	Redis    string  `json:"redis"`
	Load     string  `json:"load_at_start"` // /proc/loadavg: other work on the machine skews the numbers
	Commit   string  `json:"commit"`
	Swap     float64 `json:"swap_gb"`
}

func describeMachine(ctx context.Context, pgURL, redisURL string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				switch f[0] {
				case "MemTotal:":
					m.MemoryGB = kb / (1 << 20)
				case "SwapTotal:":
					m.Swap = kb / (1 << 20)
				}
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if m.OS == "" {
		m.OS = runtime.GOOS
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if pgURL != "" {
		if db, err := sql.Open("pgx", pgURL); err == nil {
			var v string
			if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err == nil {
				m.Postgres = "PostgreSQL " + strings.Fields(v)[0]
			}
			db.Close()
		}
	}
	if redisURL != "" {
		if opt, err := redis.ParseURL(redisURL); err == nil {
			c := redis.NewClient(opt)
			if info, err := c.Info(ctx, "server").Result(); err == nil {
				m.Redis = "Redis " + infoField(info, "redis_version")
			}
			c.Close()
		}
	}
	return m
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// freshSchema makes an empty schema in the benchmark database and returns
// a URL that uses it, and a function that drops it.
func (s *suite) freshSchema(ctx context.Context) (string, func(), error) {
	u, err := url.Parse(s.pgURL)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL URL: %v", err)
	}
	db, err := sql.Open("pgx", s.pgURL)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("creating a schema (is PostgreSQL running at %s?): %v", u.Host, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	}, nil
}

// redisDB returns the suite's Redis URL pointed at logical database n.
func (s *suite) redisDB(n int) string {
	u, err := url.Parse(s.redisURL)
	if err != nil {
		return s.redisURL
	}
	u.Path = "/" + strconv.Itoa(n)
	return u.String()
}
