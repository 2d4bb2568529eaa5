package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

// ---- a small API client ------------------------------------------------------

type apiClient struct {
	base, key string
	hc        *http.Client
}

func newAPIClient(base, key string) *apiClient {
	return &apiClient{base: base, key: key, hc: &http.Client{Timeout: 2 * time.Minute}}
}

func (a *apiClient) do(method, path string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (a *apiClient) mustDo(t *testing.T, method, path string, body []byte, want int) []byte {
	t.Helper()
	code, b, err := a.do(method, path, body, nil)
	require.NoError(t, err, "%s %s", method, path)
	require.Equal(t, want, code, "%s %s: %s", method, path, b)
	return b
}

// journeyDoc is the test journey: an event entry, a message, a delay, a
// second message, a second delay, exit; a journey-wide rate limit so the
// shared limiter in Redis is used on the way.
func journeyDoc(name, delay1, delay2 string) []byte {
	return []byte(fmt.Sprintf(`{"format": 1, "name": %q, "settings": {"reentry": "never", "rate_limit": {"per_second": 10000}}, "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
		{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hello", "body": "<p>1</p>"}},
		{"id": "wait", "kind": "delay", "config": {"duration": %q}},
		{"id": "again", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Again", "body": "<p>2</p>"}},
		{"id": "pause", "kind": "delay", "config": {"duration": %q}},
		{"id": "done", "kind": "exit", "config": {}}],
		"edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "wait"}, {"from": "wait", "to": "again"},
			{"from": "again", "to": "pause"}, {"from": "pause", "to": "done"}]}`, name, delay1, delay2))
}

// journeyNodes are the nodes every run of journeyDoc passes, each once.
var journeyNodes = []string{"start", "hello", "wait", "again", "pause", "done"}

// createJourney creates and publishes a journey through the API.
func (a *apiClient) createJourney(t *testing.T, doc []byte) string {
	t.Helper()
	var j struct {
		ID       string `json:"id"`
		Problems []any  `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(a.mustDo(t, "POST", "/api/v1/journeys", doc, http.StatusCreated), &j))
	require.Empty(t, j.Problems)
	a.mustDo(t, "POST", "/api/v1/journeys/"+j.ID+"/publish", nil, http.StatusOK)
	return j.ID
}

// signupBatch is a POST /api/v1/events body entering profiles prefix<from>…prefix<to-1>.
func signupBatch(prefix string, from, to int) []byte {
	var b strings.Builder
	b.WriteString(`{"events": [`)
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name": "signup", "profile_id": "%s%d", "profile": {"email": "%s%d@example.com"}}`, prefix, i, prefix, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// smallJourney is `waymark serve` in-process with a published journeyDoc.
type smallJourney struct {
	*apiClient
	journeyID string
}

func newSmallJourney(t *testing.T, vars map[string]string) *smallJourney {
	t.Helper()
	r := runCLI(t, vars, "", "apikeys", "create", "--name", "test", "--scopes", "journeys:read,journeys:write,events:write,profiles:write")
	require.Equal(t, 0, r.code, r.stderr)
	base, _, _ := startServe(t, vars)
	s := &smallJourney{apiClient: newAPIClient(base, strings.TrimSpace(r.stdout))}
	s.journeyID = s.createJourney(t, journeyDoc("Small", "1s", "1s"))
	return s
}

func (s *smallJourney) enter(t *testing.T, from, to int) {
	t.Helper()
	var res struct {
		Events []struct {
			Entered []string `json:"entered"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(s.mustDo(t, "POST", "/api/v1/events", signupBatch("p", from, to), http.StatusAccepted), &res))
	require.Len(t, res.Events, to-from)
	for _, e := range res.Events {
		require.Len(t, e.Entered, 1)
	}
}

type runView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Steps  []struct {
		NodeID  string `json:"node_id"`
		Outcome string `json:"outcome"`
	} `json:"steps"`
	Deliveries []struct {
		NodeID string `json:"node_id"`
		Status string `json:"status"`
	} `json:"deliveries"`
}

func (s *smallJourney) runs(t *testing.T, status string) []runView {
	t.Helper()
	var all []runView
	cursor := ""
	for {
		var page struct {
			Runs []runView `json:"runs"`
			Next string    `json:"next"`
		}
		b := s.mustDo(t, "GET", "/api/v1/runs?journey_id="+s.journeyID+"&status="+status+"&limit=100&cursor="+cursor, nil, http.StatusOK)
		require.NoError(t, json.Unmarshal(b, &page))
		all = append(all, page.Runs...)
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
}

func (s *smallJourney) waitCompleted(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done := len(s.runs(t, "completed"))
		if done == n {
			return
		}
		require.Less(t, done, n+1)
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs completed after %s; all runs: %+v", done, n, timeout, s.runs(t, ""))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireOneMessagePerStep checks every run's ledger and deliveries
// through GET /api/v1/runs/{id}.
func (s *smallJourney) requireOneMessagePerStep(t *testing.T, n int) {
	t.Helper()
	runs := s.runs(t, "")
	require.Len(t, runs, n)
	for _, r := range runs {
		var full runView
		require.NoError(t, json.Unmarshal(s.mustDo(t, "GET", "/api/v1/runs/"+r.ID, nil, http.StatusOK), &full))
		require.Equal(t, "completed", full.Status)
		var nodes []string
		for _, st := range full.Steps {
			nodes = append(nodes, st.NodeID)
		}
		require.ElementsMatch(t, journeyNodes, nodes, "run %s ledger", r.ID)
		sent := map[string]int{}
		for _, d := range full.Deliveries {
			require.Equal(t, "delivered", d.Status)
			sent[d.NodeID]++
		}
		require.Equal(t, map[string]int{"hello": 1, "again": 1}, sent, "run %s deliveries", r.ID)
	}
}

// ---- 1 web + 3 workers, 20,000 entries ----------------------------------------

// scaleEntries is how many profiles TestScaleOut enters: 20,000 under CI,
// 2,000 otherwise (a quicker local loop); WAYMARK_TEST_SCALE_ENTRIES wins.
func scaleEntries() int {
	if n, err := strconv.Atoi(os.Getenv("WAYMARK_TEST_SCALE_ENTRIES")); err == nil && n > 0 {
		return n
	}
	if testenv.CI() {
		return 20000
	}
	return 2000
}

// TestScaleOut runs the real binary as one `waymark web` and three
// `waymark worker` processes on PostgreSQL and Redis, pushes 20,000
// entries through a journey with two delays via the events API (batches of
// 1,000, with an API key), SIGKILLs one worker and restarts another
// (SIGTERM, start again) midway, and checks that every run completed
// exactly once: one run per profile, each run's ledger holding every node
// once, one delivered message per (run, send step).
func TestScaleOut(t *testing.T) {
	t.Parallel()
	pg := testenv.PostgresURL(t)
	rd := testenv.RedisURL(t, testenv.RedisDBScale)
	n := scaleEntries()
	ctx := context.Background()
	opt, err := redis.ParseURL(rd)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	require.NoError(t, rdb.FlushDB(ctx).Err())

	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	vars := map[string]string{"WAYMARK_DATABASE_URL": pg, "WAYMARK_REDIS_URL": rd, "WAYMARK_SECRET_KEY": key}
	r := runCLI(t, vars, "", "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, vars, "", "apikeys", "create", "--name", "scale", "--scopes", "journeys:read,journeys:write,events:write,profiles:write")
	require.Equal(t, 0, r.code, r.stderr)
	apiKey := strings.TrimSpace(r.stdout)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, false))
	env := []string{"WAYMARK_DATABASE_URL=" + pg, "WAYMARK_REDIS_URL=" + rd, "WAYMARK_SECRET_KEY=" + key,
		"WAYMARK_LISTEN_ADDR=" + addr, "WAYMARK_DB_MAX_CONNS=8", "WAYMARK_WORKER_CONCURRENCY=10",
		"WAYMARK_SHUTDOWN_TIMEOUT=5s", "WAYMARK_LOG_LEVEL=warn"}
	web := startScaleProc(t, "web", env, "web")
	api := newAPIClient("http://"+addr, apiKey)
	require.Eventually(t, func() bool {
		code, _, err := api.do("GET", "/readyz", nil, nil)
		return err == nil && code == 200
	}, 60*time.Second, 50*time.Millisecond, "web is ready: %s", web.log)
	jid := api.createJourney(t, journeyDoc("Scale", "2s", "1s"))

	var mu sync.Mutex
	workers := map[string]*scaleProc{}
	all := []*scaleProc{web}
	startWorker := func(name string) {
		p := startScaleProc(t, name, env, "worker")
		mu.Lock()
		defer mu.Unlock()
		workers[name] = p
		all = append(all, p)
	}
	retire := func(name string, sig syscall.Signal) {
		mu.Lock()
		p := workers[name]
		delete(workers, name)
		mu.Unlock()
		require.NoError(t, p.cmd.Process.Signal(sig))
		<-p.exited
	}
	for _, w := range []string{"w1", "w2", "w3"} {
		startWorker(w)
	}
	dumpLogs := func() {
		mu.Lock()
		defer mu.Unlock()
		var b strings.Builder
		for _, p := range all {
			fmt.Fprintf(&b, "==== %s (%s)\n%s\n", p.name, p.state(), p.log)
		}
		path := filepath.Join(os.TempDir(), "waymark-scale-logs.txt")
		_ = os.WriteFile(path, []byte(b.String()), 0o600)
		t.Logf("process logs in %s", path)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs()
		}
	})

	db, err := sql.Open("pgx", pg)
	require.NoError(t, err)
	defer db.Close()
	counts := func() map[string]int {
		rows, err := db.QueryContext(ctx, `SELECT status, COUNT(*) FROM runs WHERE journey_id = $1 GROUP BY status`, jid)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var s string
			var c int
			require.NoError(t, rows.Scan(&s, &c))
			out[s] = c
		}
		return out
	}

	// Entries: batches of 1,000 from four senders; each batch carries an
	// Idempotency-Key, so a retry after a timeout cannot enter twice.
	const batch = 1000
	var posted atomic.Int64
	batches := make(chan int, n/batch+1)
	for from := 0; from < n; from += batch {
		batches <- from
	}
	close(batches)
	const senders = 4
	errc := make(chan error, senders)
	start := time.Now()
	// Fail with the processes' logs well before `go test -timeout` kills
	// the whole binary (which would leave no logs).
	deadline := start.Add(20 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-45*time.Second).Before(deadline) {
		deadline = d.Add(-45 * time.Second)
	}
	for s := 0; s < senders; s++ {
		go func() {
			for from := range batches {
				to := min(from+batch, n)
				body := signupBatch("s", from, to)
				hdr := map[string]string{"Idempotency-Key": fmt.Sprintf("scale-%d", from)}
				for attempt := 0; ; attempt++ {
					code, b, err := api.do("POST", "/api/v1/events", body, hdr)
					if err == nil && code == http.StatusAccepted {
						break
					}
					if err == nil && code == http.StatusConflict && strings.Contains(string(b), "idempotency_key_in_progress") && time.Now().Before(deadline) {
						// The first attempt, timed out on our side, is
						// still being processed: ask again later, as the
						// API says, without using up an attempt.
						attempt--
						time.Sleep(time.Second)
						continue
					}
					if attempt == 5 {
						errc <- fmt.Errorf("batch %d: %d %v %s", from, code, err, b)
						return
					}
					time.Sleep(time.Second)
				}
				posted.Add(int64(to - from))
			}
			errc <- nil
		}()
	}

	// Midway: SIGKILL one worker, restart another gracefully, and replace
	// the dead one (as an orchestrator would).
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s after %s: runs by status %v of %d; workers %s",
					what, time.Since(start).Round(time.Second), counts(), n, describeProcs(&mu, all))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("half the entries", func() bool { return posted.Load() >= int64(n/2) })
	waitFor("a completed run", func() bool { return counts()[store.RunCompleted] > 0 })
	retire("w1", syscall.SIGKILL)
	retire("w2", syscall.SIGTERM)
	startWorker("w2b")
	startWorker("w1b")
	t.Logf("midway after %s: %v", time.Since(start).Round(time.Millisecond), counts())

	for s := 0; s < senders; s++ {
		require.NoError(t, <-errc)
	}
	t.Logf("%d entries accepted in %s", n, time.Since(start).Round(time.Millisecond))
	waitFor("every run to complete", func() bool { return counts()[store.RunCompleted] == n })
	t.Logf("%d runs completed in %s", n, time.Since(start).Round(time.Millisecond))

	// Exactly once: one run per profile …
	var runs, profiles int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT profile_id) FROM runs WHERE journey_id = $1`, jid).Scan(&runs, &profiles))
	require.Equal(t, n, runs)
	require.Equal(t, n, profiles)
	// … each run's ledger holds every node once, in order …
	rows, err := db.QueryContext(ctx, `SELECT s.run_id, string_agg(s.node_id || ':' || s.outcome, ',' ORDER BY s.sequence)
		FROM run_steps s JOIN runs r ON r.id = s.run_id WHERE r.journey_id = $1 GROUP BY s.run_id`, jid)
	require.NoError(t, err)
	ledgers := map[string]int{}
	nLedgers := 0
	for rows.Next() {
		var id, path string
		require.NoError(t, rows.Scan(&id, &path))
		ledgers[path]++
		nLedgers++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, n, nLedgers, "every run has a ledger")
	require.Len(t, ledgers, 1, "every run took the same path, each node once: %v", ledgers)
	for path := range ledgers {
		var got []string
		for _, st := range strings.Split(path, ",") {
			node, _, _ := strings.Cut(st, ":")
			got = append(got, node)
		}
		require.Equal(t, journeyNodes, got, "ledger %s", path)
	}
	// … and one delivered message per (run, send step).
	var deliveries, pairs, delivered int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT (d.run_id, d.node_id)), COUNT(*) FILTER (WHERE d.status = 'delivered')
		FROM deliveries d JOIN runs r ON r.id = d.run_id WHERE r.journey_id = $1`, jid).Scan(&deliveries, &pairs, &delivered))
	require.Equal(t, 2*n, deliveries, "two messages per run")
	require.Equal(t, 2*n, pairs, "no (run, step) has two deliveries")
	require.Equal(t, 2*n, delivered)

	mu.Lock()
	left := []*scaleProc{web}
	for _, p := range workers {
		left = append(left, p)
	}
	mu.Unlock()
	for _, p := range left {
		require.False(t, p.done(), "%s exited on its own: %s", p.name, p.state())
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		<-p.exited
		require.NotContains(t, p.log.String(), "panic")
	}
}

// scaleProc is a waymark process of TestScaleOut. It dies with the test
// binary (Pdeathsig), even when `go test -timeout` kills it.
type scaleProc struct {
	name   string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error
}

func startScaleProc(t *testing.T, name string, env []string, args ...string) *scaleProc {
	t.Helper()
	cmd := exec.Command(waymarkBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &scaleProc{name: name, cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	require.NoError(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if !p.done() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *scaleProc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *scaleProc) state() string {
	if !p.done() {
		return "running"
	}
	if p.err == nil {
		return "exited 0"
	}
	return p.err.Error()
}

func describeProcs(mu *sync.Mutex, ps []*scaleProc) string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for _, p := range ps {
		out = append(out, p.name+": "+p.state())
	}
	return strings.Join(out, ", ")
}
