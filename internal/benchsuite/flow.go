package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/connectors/webhook"
)

// The flow benchmark is a user's first real journey, end to end: signed
// webhook requests → condition (half pass, decided by a body field) →
// send_webhook through a webhook connector to an HTTP sink on loopback, on
// a real `waymark serve` (the built binary, default settings) set up
// through its API. The same load also runs against a minimal non-durable
// Go handler (baseline.go), so the ratio comes from one run on one machine.

// redisDBFlow is the Redis logical database of the PostgreSQL + Redis flow
// run (no test uses it; internal/testenv has theirs); it is flushed.
const redisDBFlow = 11

const modeBaseline = "baseline"

// flowJourney is the journey under test; the connector is named "sink".
const flowJourney = `{"format": 1, "name": "Bench flow", "settings": {"reentry": "never"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}},
	{"id": "check", "kind": "condition", "config": {"expr": "event.body.pass == true"}},
	{"id": "notify", "kind": "send_webhook", "config": {"connector": "sink", "payload": "{\"entry\": {{ profile.external_id }}}"}}],
	"edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "notify"}]}`

// flowConnectorRate is the connector's rate_limit (its maximum): the
// default, 50 per second, would make the connector the measure.
const flowConnectorRate = 100000

// FlowResult is one setup under the flow load.
type FlowResult struct {
	Mode     string `json:"mode"` // postgres, embedded or baseline
	Setup    string `json:"setup"`
	Requests int    `json:"requests"`
	Senders  int    `json:"senders"`

	Accepted       int     `json:"accepted"` // 202 answers
	Refused        int     `json:"refused"`  // any other answer, or no answer
	AcceptSeconds  float64 `json:"accept_seconds"`
	AcceptedPerSec float64 `json:"accepted_per_second"`
	P50ms          float64 `json:"p50_ms"` // latency of accepted requests, while the engine drains
	P99ms          float64 `json:"p99_ms"`

	Expected         int     `json:"expected"`         // accepted entries that pass the condition
	Delivered        int     `json:"delivered"`        // passing entries with a delivery at the sink
	Lost             int     `json:"lost"`             // Expected − Delivered
	Duplicates       int     `json:"duplicates"`       // receipts of a webhook-id already received
	Unexpected       int     `json:"unexpected"`       // bad signature, an entry that did not pass, a second webhook-id for one entry
	DeliverySeconds  float64 `json:"delivery_seconds"` // first request → last delivery
	DeliveriesPerSec float64 `json:"deliveries_per_second"`

	ServerCPU   float64 `json:"server_cpu_seconds"` // the waymark (or baseline) process, user + system, over the measure
	PostgresCPU float64 `json:"postgres_cpu_seconds"`
	// PostgresOwnCPU is the part of PostgresCPU spent by the backends
	// serving this waymark's connections (no background writers, no other
	// clients of the cluster): a check on what the shared server adds.
	PostgresOwnCPU   float64 `json:"postgres_own_backends_cpu_seconds"`
	PostgresBackends int     `json:"postgres_own_backends"`
	RedisCPU         float64 `json:"redis_cpu_seconds"`
	// ClientCPU is the suite's own process over the measure: the 32
	// senders and the sink, which share the machine's cores too.
	ClientCPU float64 `json:"client_cpu_seconds"`
	// Writes are the rows each table of the server's schema took over the
	// measure (PostgreSQL mode: pg_stat_user_tables).
	Writes       []TableWrites `json:"table_writes,omitempty"`
	PostgresSeen bool          `json:"postgres_cpu_seen"`
	RedisSeen    bool          `json:"redis_cpu_seen"`
	PeakRSSMB    float64       `json:"peak_rss_mb"` // the server process's VmHWM
	LoadStart    string        `json:"load_start"`  // /proc/loadavg (1, 5, 15 min) before and after
	LoadEnd      string        `json:"load_end"`
	Profile      string        `json:"profile,omitempty"` // CPU profile of the server under load (-flow-profile)
	Err          string        `json:"error,omitempty"`
}

// TableWrites is one table's row counts over the measure.
type TableWrites struct {
	Table    string `json:"table"`
	Inserted int64  `json:"inserted"`
	Updated  int64  `json:"updated"`
	HOT      int64  `json:"hot_updated"` // updates that touched no index
	Deleted  int64  `json:"deleted"`
}

// CPUPerRequestMS returns CPU-milliseconds per request sent for the
// server process, PostgreSQL, Redis and their sum.
func (r FlowResult) CPUPerRequestMS() (server, pg, rd, total float64) {
	if r.Requests == 0 {
		return
	}
	k := 1000 / float64(r.Requests)
	return r.ServerCPU * k, r.PostgresCPU * k, r.RedisCPU * k, (r.ServerCPU + r.PostgresCPU + r.RedisCPU) * k
}

func (s *suite) runFlow(ctx context.Context, haveServices bool) {
	modes := []string{modeBaseline, modeEmbedded}
	if haveServices {
		modes = append(modes, modePostgres)
	}
	for _, m := range modes {
		if ctx.Err() != nil {
			return
		}
		s.logf("  flow (webhook → condition → send_webhook), %s: %d requests from %d senders …", flowSetup(m), s.sizes.FlowRequests, s.sizes.FlowSenders)
		r := s.flowRun(ctx, m)
		s.res.Flow = append(s.res.Flow, r)
		if r.Err != "" {
			s.warn("flow (%s): %s", r.Mode, r.Err)
			continue
		}
		sv, pg, rd, tot := r.CPUPerRequestMS()
		s.logf("    accepted %.0f req/s (p50 %.1f ms, p99 %.1f ms); %d/%d delivered, %.0f deliveries/s; lost %d, duplicated %d, unexpected %d; "+
			"CPU ms/request: server %.2f, postgres %.2f (own backends %.2f), redis %.2f, total %.2f; peak RSS %.0f MB; load %s → %s",
			r.AcceptedPerSec, r.P50ms, r.P99ms, r.Delivered, r.Expected, r.DeliveriesPerSec, r.Lost, r.Duplicates, r.Unexpected,
			sv, pg, r.PostgresOwnCPU*1000/float64(max(r.Requests, 1)), rd, tot, r.PeakRSSMB, r.LoadStart, r.LoadEnd)
	}
}

func flowSetup(mode string) string {
	switch mode {
	case modePostgres:
		return "waymark serve, PostgreSQL + Redis"
	case modeEmbedded:
		return "waymark serve, embedded (SQLite + in-process Redis)"
	}
	return "baseline: non-durable Go handler"
}

// flowTarget is a server under test: where to send, how to sign, which
// process to measure.
type flowTarget struct {
	hookURL   string
	secret    string // whsec_… of the hook
	proc      *benchProc
	pprofAddr string // "" = not profiled
	pg, redis string // URLs whose servers' CPU counts ("" = none)
	dbURL     string // the server's own schema (PostgreSQL mode), for its row counts
}

func (s *suite) flowRun(ctx context.Context, mode string) (r FlowResult) {
	r = FlowResult{Mode: mode, Setup: flowSetup(mode), Requests: s.sizes.FlowRequests, Senders: s.sizes.FlowSenders}
	sinkSecret := newWebhookSecret()
	sk, err := newSink(sinkSecret)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer sk.close()

	var t *flowTarget
	var cleanup func()
	if mode == modeBaseline {
		t, cleanup, err = s.startBaseline(ctx, sk.url, sinkSecret)
	} else {
		t, cleanup, err = s.startWaymarkFlow(ctx, mode, sk.url, sinkSecret)
	}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer cleanup()
	if err := s.flowMeasure(ctx, &r, t, sk); err != nil {
		r.Err = err.Error()
		if t.proc != nil {
			r.Err += "; server log: " + lastLines(t.proc.out.String(), 8)
		}
	}
	return r
}

// flowMeasure sends the signed requests and waits for the deliveries.
func (s *suite) flowMeasure(ctx context.Context, r *FlowResult, t *flowTarget, sk *sink) error {
	key, err := webhook.DecodeSecret(t.secret)
	if err != nil {
		return fmt.Errorf("the hook's secret: %v", err)
	}
	type signed struct {
		body        []byte
		id, ts, sig string
	}
	n := r.Requests
	reqs := make([]signed, n)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for k := range reqs {
		entry := fmt.Sprintf("flow-%s-%d", run, k)
		pass := k%2 == 0
		body := []byte(fmt.Sprintf(`{"id": %q, "pass": %t, "n": %d}`, entry, pass, k))
		ts := time.Now().Unix()
		id := fmt.Sprintf("msg_%s_%d", run, k)
		reqs[k] = signed{body: body, id: id, ts: strconv.FormatInt(ts, 10), sig: webhook.Sign(key, id, ts, body)}
		if pass {
			sk.expect(entry)
		} else {
			sk.forbid(entry)
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 2 * r.Senders, MaxIdleConnsPerHost: 2 * r.Senders}}
	defer client.CloseIdleConnections()
	send := func(k int) (time.Duration, int) {
		q := reqs[k]
		req, _ := http.NewRequestWithContext(ctx, "POST", t.hookURL, bytes.NewReader(q.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", q.id)
		req.Header.Set("webhook-timestamp", q.ts)
		req.Header.Set("webhook-signature", q.sig)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(start), 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode
	}

	// The measure: CPU and load before the first request …
	r.LoadStart = loadAvg()
	writes0 := tableWrites(ctx, t.dbURL)
	client0 := pidCPU(os.Getpid())
	cpu0 := s.flowCPU(t)
	var prof *profiler
	if t.pprofAddr != "" {
		prof = startProfiler(t.pprofAddr, filepath.Join(s.tmp, "flow-"+r.Mode+"-profiles"))
	}
	start := time.Now()
	sk.reset()
	lat := make([]time.Duration, n)
	codes := make([]int, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < r.Senders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				lat[k], codes[k] = send(k)
			}
		}()
	}
	wg.Wait()
	r.AcceptSeconds = time.Since(start).Seconds()
	var ok []time.Duration
	firstBad := ""
	for k, c := range codes {
		if c == http.StatusAccepted {
			ok = append(ok, lat[k])
			continue
		}
		r.Refused++
		if k%2 == 0 {
			sk.unexpect(fmt.Sprintf("flow-%s-%d", run, k)) // not accepted: not expected at the sink
		}
		if firstBad == "" {
			firstBad = fmt.Sprintf("request %d answered %d", k, c)
		}
	}
	r.Accepted = len(ok)
	r.AcceptedPerSec = float64(r.Accepted) / r.AcceptSeconds
	sort.Slice(ok, func(a, b int) bool { return ok[a] < ok[b] })
	if len(ok) > 0 {
		r.P50ms = ms(ok[int(0.5*float64(len(ok)-1))])
		r.P99ms = ms(ok[int(0.99*float64(len(ok)-1))])
	}

	// … the drain: until every expected delivery arrived, or nothing came
	// for a while (the rest are lost), or the budget is spent.
	stall := 60 * time.Second
	if s.res.Quick {
		stall = 20 * time.Second
	}
	deadline := start.Add(s.budget)
	var waitErr error
	for {
		st := sk.snapshot()
		if st.delivered >= sk.expectedCount() {
			break
		}
		last := st.lastAt
		if last.IsZero() {
			last = start
		}
		if time.Since(last) > stall && time.Since(start) > stall {
			waitErr = fmt.Errorf("no delivery for %s: %d of %d delivered", stall, st.delivered, sk.expectedCount())
			break
		}
		if time.Now().After(deadline) {
			waitErr = fmt.Errorf("stopped after the %s budget: %d of %d delivered", s.budget, st.delivered, sk.expectedCount())
			break
		}
		if t.proc != nil && t.proc.exited() {
			waitErr = errors.New("the server exited during the measure")
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// … and the CPU up to the end of the drain.
	cpu1 := s.flowCPU(t)
	r.ClientCPU = pidCPU(os.Getpid()) - client0
	r.LoadEnd = loadAvg()
	r.ServerCPU, r.PostgresCPU, r.RedisCPU = cpu1.server-cpu0.server, cpu1.pg-cpu0.pg, cpu1.redis-cpu0.redis
	r.PostgresSeen, r.RedisSeen = cpu0.pgSeen, cpu0.redisSeen
	if t.pg != "" && t.proc != nil {
		r.PostgresOwnCPU, r.PostgresBackends = ownBackendsCPU(ctx, t.pg, t.proc.cmd.Process.Pid, cpu0.pgProcs, cpu1.pgProcs)
	}
	if prof != nil {
		r.Profile, err = prof.finish(s.flowProfileDir, "flow-"+r.Mode)
		if err != nil {
			s.warn("flow (%s): profile: %v", r.Mode, err)
		}
	}
	if t.proc != nil {
		r.PeakRSSMB = vmHWM(t.proc.cmd.Process.Pid)
	}
	// A late duplicate (a re-sent delivery) would come after the last
	// expected one: wait a little before counting.
	settle := 5 * time.Second
	if s.res.Quick {
		settle = time.Second
	}
	if t.dbURL != "" {
		// PostgreSQL backends report their table counts when they have
		// been idle a while (up to 10 s in PostgreSQL 15).
		settle = 11 * time.Second
	}
	time.Sleep(settle)
	if t.dbURL != "" {
		r.Writes = diffWrites(writes0, tableWrites(ctx, t.dbURL))
	}
	st := sk.snapshot()
	r.Expected = sk.expectedCount()
	r.Delivered, r.Duplicates, r.Unexpected = st.delivered, st.duplicates, st.unexpected
	r.Lost = r.Expected - r.Delivered
	if !st.lastAt.IsZero() {
		r.DeliverySeconds = st.lastAt.Sub(start).Seconds()
		r.DeliveriesPerSec = float64(r.Delivered) / r.DeliverySeconds
	}
	if waitErr == nil && r.Refused > 0 {
		waitErr = fmt.Errorf("%d of %d requests were not accepted (first: %s)", r.Refused, n, firstBad)
	}
	return waitErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type flowCPUSample struct {
	server, pg, redis float64
	pgSeen, redisSeen bool
	pgProcs           map[int]int64 // ticks by PID
}

func (s *suite) flowCPU(t *flowTarget) flowCPUSample {
	var c flowCPUSample
	if t.proc != nil {
		c.server = pidCPU(t.proc.cmd.Process.Pid)
	}
	if t.pg != "" {
		c.pgProcs, c.pgSeen = postgresProcs(t.pg)
		for _, ticks := range c.pgProcs {
			c.pg += float64(ticks) / clockTicks
		}
	}
	if t.redis != "" {
		c.redis, c.redisSeen = redisCPU(t.redis)
	}
	return c
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// cleanEnv is the environment without WAYMARK_* variables, so the server
// runs at its defaults plus what the suite sets.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WAYMARK_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// startWaymarkFlow starts `waymark serve` at its defaults (plus the listen
// address, the connector allowlist for the sink and, in PostgreSQL mode,
// the database, Redis and secret key), makes an admin API key with the
// CLI, and sets up the connector and the journey through the API.
func (s *suite) startWaymarkFlow(ctx context.Context, mode, sinkURL, sinkSecret string) (*flowTarget, func(), error) {
	bin, err := s.buildWaymark()
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	addr := "127.0.0.1:" + itoa(port)
	t := &flowTarget{}
	vars := []string{"WAYMARK_LISTEN_ADDR=" + addr, "WAYMARK_CONNECTOR_ALLOWLIST=127.0.0.1"}
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (*flowTarget, func(), error) { cleanup(); return nil, nil, err }
	switch mode {
	case modeEmbedded:
		dir := filepath.Join(s.tmp, "flow-embedded")
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
		vars = append(vars, "WAYMARK_DATA_DIR="+dir)
	case modePostgres:
		dbURL, drop, err := s.freshSchema(ctx)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, drop)
		rURL := s.redisDB(redisDBFlow)
		opt, err := redis.ParseURL(rURL)
		if err != nil {
			return fail(err)
		}
		rdb := redis.NewClient(opt)
		flush := func() { _ = rdb.FlushDB(context.Background()).Err() }
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			rdb.Close()
			return fail(fmt.Errorf("flushing Redis db %d: %v", redisDBFlow, err))
		}
		cleanups = append(cleanups, func() { flush(); rdb.Close() })
		vars = append(vars, "WAYMARK_DATABASE_URL="+dbURL, "WAYMARK_REDIS_URL="+rURL, "WAYMARK_SECRET_KEY="+benchSecretKey)
		t.pg, t.redis, t.dbURL = s.pgURL, s.redisURL, dbURL
	}
	if s.flowProfileDir != "" {
		pp, err := freePort()
		if err != nil {
			return fail(err)
		}
		t.pprofAddr = "127.0.0.1:" + itoa(pp)
		vars = append(vars, "WAYMARK_PPROF_ADDR="+t.pprofAddr)
	}
	env := cleanEnv(vars...)

	// An admin API key from the CLI (this also migrates the database).
	keyCmd := exec.CommandContext(ctx, bin, "apikeys", "create", "--name", "benchsuite", "--scopes", "admin")
	keyCmd.Env = env
	var stderr bytes.Buffer
	keyCmd.Stderr = &stderr
	out, err := keyCmd.Output()
	if err != nil {
		return fail(fmt.Errorf("waymark apikeys create: %v: %s", err, lastLines(stderr.String(), 5)))
	}
	apiKey := strings.TrimSpace(string(out))

	p, err := startBenchProc(bin, env, "serve")
	if err != nil {
		return fail(err)
	}
	t.proc = p
	cleanups = append(cleanups, func() { p.stop() })
	base := "http://" + addr
	if err := waitHealthy(ctx, base+"/healthz", p, time.Minute); err != nil {
		return fail(err)
	}

	api := &apiClient{base: base + "/api/v1", key: apiKey}
	if _, err := api.do(ctx, "POST", "/connectors", map[string]any{"type": "webhook", "name": "sink",
		"config": map[string]any{"url": sinkURL, "secret": sinkSecret, "rate_limit": flowConnectorRate}}, http.StatusCreated); err != nil {
		return fail(fmt.Errorf("creating the webhook connector: %v", err))
	}
	var j struct {
		ID string `json:"id"`
	}
	b, err := api.do(ctx, "POST", "/journeys", json.RawMessage(flowJourney), http.StatusCreated)
	if err == nil {
		err = json.Unmarshal(b, &j)
	}
	if err != nil {
		return fail(fmt.Errorf("creating the journey: %v", err))
	}
	if _, err := api.do(ctx, "POST", "/journeys/"+j.ID+"/publish", nil, http.StatusOK); err != nil {
		return fail(fmt.Errorf("publishing the journey: %v", err))
	}
	var h struct {
		URL     string   `json:"url"`
		Secrets []string `json:"secrets"`
	}
	b, err = api.do(ctx, "GET", "/journeys/"+j.ID+"/hook", nil, http.StatusOK)
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err == nil && (h.URL == "" || len(h.Secrets) == 0) {
		err = fmt.Errorf("no url or secret in %s", b)
	}
	if err != nil {
		return fail(fmt.Errorf("reading the hook: %v", err))
	}
	t.hookURL, t.secret = h.URL, h.Secrets[0]
	return t, cleanup, nil
}

// waitHealthy polls url until it answers 200.
func waitHealthy(ctx context.Context, url string, p *benchProc, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("the server exited: %s", lastLines(p.out.String(), 8))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s: %s", url, budget, lastLines(p.out.String(), 8))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type apiClient struct{ base, key string }

// do sends a JSON request and returns the body of an answer with the
// wanted status.
func (a *apiClient) do(ctx context.Context, method, path string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// ---- the sink ------------------------------------------------------------------

// sink is the HTTP receiver the deliveries go to. It checks each one's
// Standard Webhooks signature and counts it by webhook-id and by the entry
// named in its payload.
type sink struct {
	url string
	key []byte
	srv *http.Server

	mu         sync.Mutex
	want       map[string]bool // entry → true: expected; false: must not arrive
	byID       map[string]int  // webhook-id → receipts
	byEntry    map[string]string
	delivered  int
	duplicates int
	unexpected int
	lastAt     time.Time
}

type sinkState struct {
	delivered, duplicates, unexpected int
	lastAt                            time.Time
}

func newSink(secret string) (*sink, error) {
	key, err := webhook.DecodeSecret(secret)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sk := &sink{key: key, want: map[string]bool{}, byID: map[string]int{}, byEntry: map[string]string{}}
	sk.url = "http://" + ln.Addr().String() + "/sink"
	sk.srv = &http.Server{Handler: http.HandlerFunc(sk.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sk.srv.Serve(ln) }()
	return sk, nil
}

func (sk *sink) close() { _ = sk.srv.Close() }

func (sk *sink) expect(entry string)   { sk.mu.Lock(); sk.want[entry] = true; sk.mu.Unlock() }
func (sk *sink) forbid(entry string)   { sk.mu.Lock(); sk.want[entry] = false; sk.mu.Unlock() }
func (sk *sink) unexpect(entry string) { sk.forbid(entry) }

func (sk *sink) expectedCount() int {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	n := 0
	for _, w := range sk.want {
		if w {
			n++
		}
	}
	return n
}

// reset forgets anything received before the measure.
func (sk *sink) reset() {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	sk.byID, sk.byEntry = map[string]int{}, map[string]string{}
	sk.delivered, sk.duplicates, sk.unexpected, sk.lastAt = 0, 0, 0, time.Time{}
}

func (sk *sink) snapshot() sinkState {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	return sinkState{sk.delivered, sk.duplicates, sk.unexpected, sk.lastAt}
}

func (sk *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	var payload struct {
		Entry string `json:"entry"`
	}
	valid := id != "" && r.Header.Get("webhook-signature") == webhook.Sign(sk.key, id, ts, body) && json.Unmarshal(body, &payload) == nil
	now := time.Now()
	sk.mu.Lock()
	defer sk.mu.Unlock()
	switch {
	case !valid:
		sk.unexpected++
	case sk.byID[id] > 0:
		sk.byID[id]++
		sk.duplicates++
	default:
		sk.byID[id] = 1
		prev, seen := sk.byEntry[payload.Entry]
		switch {
		case !sk.want[payload.Entry]:
			sk.unexpected++
		case seen && prev != id:
			sk.unexpected++ // a second run for one entry
		default:
			sk.byEntry[payload.Entry] = id
			sk.delivered++
			sk.lastAt = now
		}
	}
	w.WriteHeader(http.StatusOK)
}

// tableWrites reads the row counts of every table in the URL's schema.
func tableWrites(ctx context.Context, dbURL string) map[string]TableWrites {
	if dbURL == "" {
		return nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return nil
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables WHERE schemaname = $1`,
		u.Query().Get("search_path"))
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]TableWrites{}
	for rows.Next() {
		var w TableWrites
		if rows.Scan(&w.Table, &w.Inserted, &w.Updated, &w.HOT, &w.Deleted) == nil {
			out[w.Table] = w
		}
	}
	return out
}

// diffWrites returns the tables that took writes between two readings,
// the most written first.
func diffWrites(before, after map[string]TableWrites) []TableWrites {
	var out []TableWrites
	for name, a := range after {
		b := before[name]
		d := TableWrites{Table: name, Inserted: a.Inserted - b.Inserted, Updated: a.Updated - b.Updated, HOT: a.HOT - b.HOT, Deleted: a.Deleted - b.Deleted}
		if d.Inserted+d.Updated+d.Deleted > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].Inserted+out[i].Updated+out[i].Deleted, out[j].Inserted+out[j].Updated+out[j].Deleted
		if ti != tj {
			return ti > tj
		}
		return out[i].Table < out[j].Table
	})
	return out
}

// ownBackendsCPU is the CPU seconds, between two samples, of the PostgreSQL
// backends connected to process pid's sockets, and how many there are.
func ownBackendsCPU(ctx context.Context, pgURL string, pid int, before, after map[int]int64) (float64, int) {
	ports := socketPorts(pid)
	if len(ports) == 0 {
		return 0, 0
	}
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p)
	}
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		return 0, 0
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])`, "{"+strings.Join(list, ",")+"}")
	if err != nil {
		return 0, 0
	}
	defer rows.Close()
	var ticks int64
	n := 0
	for rows.Next() {
		var bp int
		if rows.Scan(&bp) == nil {
			ticks += after[bp] - before[bp] // a backend started during the measure was 0 before
			n++
		}
	}
	return float64(ticks) / clockTicks, n
}

// exited reports whether the process has ended.
func (p *benchProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ---- process measures ----------------------------------------------------------

// pidCPU is one process's CPU seconds (utime + stime of all its threads,
// plus its reaped children's).
func pidCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	t, _ := statTicks(string(b))
	return float64(t) / clockTicks
}

// vmHWM is a process's peak resident set size in MB (/proc/PID/status).
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// ---- CPU profiles --------------------------------------------------------------

// profiler takes back-to-back CPU profiles of a process over pprof until
// finish, so that the profile covers the measure whatever its length.
type profiler struct {
	addr, dir string
	stop      chan struct{}
	done      chan struct{}
	mu        sync.Mutex
	files     []string
	errs      []string
}

const profileChunk = 2 // seconds

func startProfiler(addr, dir string) *profiler {
	p := &profiler{addr: addr, dir: dir, stop: make(chan struct{}), done: make(chan struct{})}
	_ = os.MkdirAll(dir, 0o755)
	go func() {
		defer close(p.done)
		client := &http.Client{Timeout: (profileChunk + 30) * time.Second}
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, profileChunk))
			if err != nil {
				p.fail(err.Error())
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				p.fail(fmt.Sprintf("status %d: %v %s", resp.StatusCode, err, lastLines(string(b), 2)))
				return
			}
			f := filepath.Join(dir, fmt.Sprintf("chunk-%03d.pprof", i))
			if err := os.WriteFile(f, b, 0o644); err != nil {
				p.fail(err.Error())
				return
			}
			p.mu.Lock()
			p.files = append(p.files, f)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *profiler) fail(msg string) {
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

// finish waits for the chunk being taken, merges the chunks into
// outDir/name.pprof and writes its top call paths by cumulative share to
// outDir/name-top.txt.
func (p *profiler) finish(outDir, name string) (string, error) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	files, errs := p.files, p.errs
	p.mu.Unlock()
	if len(files) == 0 {
		return "", fmt.Errorf("no profile taken: %s", strings.Join(errs, "; "))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, name+".pprof")
	merge := exec.Command("go", append([]string{"tool", "pprof", "-proto", "-output", out}, files...)...)
	if b, err := merge.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go tool pprof -proto: %v: %s", err, lastLines(string(b), 3))
	}
	top := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=80", out)
	b, err := top.Output()
	if err != nil {
		return out, fmt.Errorf("go tool pprof -top: %v", err)
	}
	return out, os.WriteFile(filepath.Join(outDir, name+"-top.txt"), b, 0o644)
}
