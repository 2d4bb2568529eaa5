package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		kind      string
		addrs     []string
		master    string
		db        int
		user      string
		pass      string
		sentPass  string
		tls       bool
	}{
		{name: "plain", url: "redis://127.0.0.1:6379/2", kind: redisStandalone, addrs: []string{"127.0.0.1:6379"}, db: 2},
		{name: "default port, password", url: "redis://:s3cret@cache", kind: redisStandalone, addrs: []string{"cache:6379"}, pass: "s3cret"},
		{name: "user and encoded password", url: "rediss://app:p%40ss%3Aw@cache.example.com:6380/1?dial_timeout=3s", kind: redisStandalone,
			addrs: []string{"cache.example.com:6380"}, db: 1, user: "app", pass: "p@ss:w", tls: true},
		{name: "ipv6", url: "redis://[::1]:7000", kind: redisStandalone, addrs: []string{"[::1]:7000"}},
		{name: "sentinel", url: "redis-sentinel://:pw@s1:26379,s2,s3:26380/mymaster/3", kind: redisSentinel,
			addrs: []string{"s1:26379", "s2:26379", "s3:26380"}, master: "mymaster", db: 3, pass: "pw"},
		{name: "sentinel, db in query, sentinel password", url: "rediss-sentinel://s1/mymaster?db=4&sentinel_password=sp&read_timeout=2s", kind: redisSentinel,
			addrs: []string{"s1:26379"}, master: "mymaster", db: 4, sentPass: "sp", tls: true},
		{name: "cluster", url: "redis-cluster://:pw@n1:7000,n2:7001,n3", kind: redisCluster, addrs: []string{"n1:7000", "n2:7001", "n3:6379"}, pass: "pw"},
		{name: "cluster, db 0 allowed", url: "rediss-cluster://n1:7000/0?pool_size=5", kind: redisCluster, addrs: []string{"n1:7000"}, tls: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRedisURL(tt.url)
			require.NoError(t, err)
			require.Equal(t, tt.kind, got.Kind)
			require.Equal(t, tt.addrs, got.Addrs)
			require.Equal(t, tt.master, got.Master)
			require.Equal(t, tt.db, got.DB)
			require.Equal(t, tt.tls, got.TLS)
			require.NotContains(t, got.String(), "s3cret")
			switch tt.kind {
			case redisStandalone:
				require.Equal(t, tt.addrs[0], got.simple.Addr)
				require.Equal(t, tt.db, got.simple.DB)
				require.Equal(t, tt.user, got.simple.Username)
				require.Equal(t, tt.pass, got.simple.Password)
				require.Equal(t, tt.tls, got.simple.TLSConfig != nil)
			case redisSentinel:
				require.Equal(t, tt.addrs, got.failover.SentinelAddrs)
				require.Equal(t, tt.master, got.failover.MasterName)
				require.Equal(t, tt.db, got.failover.DB)
				require.Equal(t, tt.pass, got.failover.Password)
				require.Equal(t, tt.sentPass, got.failover.SentinelPassword)
				require.Equal(t, tt.tls, got.failover.TLSConfig != nil)
			case redisCluster:
				require.Equal(t, tt.addrs, got.cluster.Addrs)
				require.Equal(t, tt.pass, got.cluster.Password)
				require.Equal(t, tt.tls, got.cluster.TLSConfig != nil)
			}
			c := got.newClient()
			require.NoError(t, c.Close())
		})
	}
	o, err := parseRedisURL("redis://h/0?read_timeout=7s&pool_size=3")
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, o.simple.ReadTimeout)
	require.Equal(t, 3, o.simple.PoolSize)
	o, err = parseRedisURL("redis-sentinel://h/m?read_timeout=7s")
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, o.failover.ReadTimeout)
	o, err = parseRedisURL("redis-cluster://h?read_timeout=7s")
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, o.cluster.ReadTimeout)
}

func TestParseRedisURLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url, want string }{
		{"no scheme", "cache:6379", "want redis://"},
		{"http", "http://x", `want redis://`},
		{"no host", "redis://", "no host"},
		{"no host, only password", "redis://:hunter2@/0", "no host"},
		{"two hosts, plain", "redis://:hunter2@a:6379,b:6379/0", "names 2 servers, but a redis:// URL connects to one: for failover use redis-sentinel://"},
		{"empty host in list", "redis-cluster://a:1,,b:2", "empty host in the host list"},
		{"bad port", "redis://:hunter2@cache:67x9", `bad port "67x9"`},
		{"port out of range", "redis-sentinel://a:70000/m", `bad port "70000"`},
		{"bare ipv6", "redis://::1:6379", "put an IPv6 address in brackets"},
		{"bad db", "redis://:hunter2@cache/x", `bad database number "x"`},
		{"deep path", "redis://cache/0/1", `bad path "/0/1"`},
		{"sentinel without master", "redis-sentinel://:hunter2@s1,s2", "name the master the sentinels monitor"},
		{"sentinel, bad db", "redis-sentinel://s1/mymaster/zero", `bad database number "zero"`},
		{"sentinel, db twice", "redis-sentinel://s1/mymaster/1?db=2", "database given twice"},
		{"sentinel, deep path", "redis-sentinel://s1/a/1/2", `bad path "/a/1/2"`},
		{"cluster with db", "redis-cluster://:hunter2@n1,n2/3", "Redis Cluster has only database 0"},
		{"cluster with db query", "redis-cluster://n1?db=2", "Redis Cluster has only database 0"},
		{"password in query", "redis://cache?password=hunter2", `option "password" is not accepted here`},
		{"addr in query", "redis-cluster://n1?addr=n2:7000", `option "addr" is not accepted here`},
		{"unknown option", "redis://:hunter2@cache/0?colour=blue", "unexpected option: colour"},
		{"unknown option, sentinel", "redis-sentinel://:hunter2@s/m?colour=blue", "unexpected option: colour"},
		{"unknown option, cluster", "redis-cluster://:hunter2@n?colour=blue", "unexpected option: colour"},
		{"bad option value", "redis://:hunter2@cache/0?dial_timeout=soon", "dial_timeout"},
		{"bad encoding in password", "redis://:hun%zzter2@cache", "bad percent-encoding in the password"},
		{"fragment", "redis://cache/0#x", "fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRedisURL(tt.url)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "hunter2", "no passwords in errors")
		})
	}
	// Through the binary: one line naming the variable, exit 2.
	r := runCLI(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_REDIS_URL": "redis-sentinel://:hunter2@s1,s2"}, "", "serve")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "WAYMARK_REDIS_URL: name the master the sentinels monitor")
	require.NotContains(t, r.stderr, "hunter2")
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
}

// ---- live Sentinel and Cluster ---------------------------------------------

// freePort finds a loopback port nobody listens on (and, for Cluster, whose
// bus port +10000 is free too).
func freePort(t *testing.T, bus bool) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !bus {
			return p
		}
		if p+10000 > 65535 {
			continue
		}
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000)); err == nil {
			_ = l2.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// startRedisServer runs redis-server with args on a free port in its own
// directory, stopped when the test ends, and waits until it answers.
// A config file (conf, may be "") goes first, as redis-server wants it.
func startRedisServer(t *testing.T, bin string, port int, password, conf string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	var all []string
	if conf != "" {
		all = append(all, conf)
	}
	all = append(all, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	cmd := exec.Command(bin, append(all, args...)...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "redis.log")); err == nil {
				t.Logf("redis-server :%d log:\n%s", port, b)
			}
		}
	})
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond,
		"redis-server on port %d did not start", port)
}

// TestRedisSentinel runs a journey through `waymark serve` whose Redis is
// found through a Sentinel (master + replica, passwords on both), forces a
// failover between two batches of entries, and checks that every run
// completed with both messages sent once.
func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	bin := testenv.Binary(t, "redis-server")
	const pw = "data-pass"
	master, replica, sentinel := freePort(t, false), freePort(t, false), freePort(t, false)
	startRedisServer(t, bin, master, pw, "", "--requirepass", pw, "--masterauth", pw)
	startRedisServer(t, bin, replica, pw, "", "--requirepass", pw, "--masterauth", pw, "--replicaof", "127.0.0.1", strconv.Itoa(master))
	conf := filepath.Join(t.TempDir(), "sentinel.conf") // sentinel rewrites its config: a writable file
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`sentinel monitor mymaster 127.0.0.1 %d 1
sentinel auth-pass mymaster %s
sentinel down-after-milliseconds mymaster 2000
sentinel failover-timeout mymaster 10000
`, master, pw)), 0o600))
	startRedisServer(t, bin, sentinel, "", conf, "--sentinel")

	sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sentinel)})
	defer sc.Close()
	ctx := context.Background()
	// The sentinel learns about the replica from the master's INFO.
	require.Eventually(t, func() bool {
		rs, err := sc.Replicas(ctx, "mymaster").Result()
		return err == nil && len(rs) == 1 && rs[0]["flags"] == "slave"
	}, 30*time.Second, 100*time.Millisecond, "sentinel sees the replica")
	start := time.Now()
	phase := func(what string) { t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond)) }

	dir := t.TempDir()
	vars := map[string]string{"WAYMARK_DATA_DIR": dir, "WAYMARK_LOG_LEVEL": "error",
		"WAYMARK_REDIS_URL": fmt.Sprintf("redis-sentinel://:%s@127.0.0.1:%d/mymaster/0", pw, sentinel)}
	api := newSmallJourney(t, vars)
	api.enter(t, 0, 10)
	api.waitCompleted(t, 10, time.Minute)
	phase("first 10 runs completed")

	require.NoError(t, sc.Failover(ctx, "mymaster").Err())
	require.Eventually(t, func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		return err == nil && addr[1] == strconv.Itoa(replica)
	}, 30*time.Second, 100*time.Millisecond, "sentinel promotes the replica")
	promoted := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replica), Password: pw})
	defer promoted.Close()
	demoted := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", master), Password: pw})
	defer demoted.Close()
	// Until the sentinel turns the old master into a replica (~10 s), it
	// still takes writes, and a client that has not yet had +switch-master
	// may send them there; they are lost when it resyncs (Redis replication
	// is asynchronous). Waymark survives that — its reconciler re-enqueues
	// such runs from the database within a pass (30 s) — but this test is
	// about following the sentinel, so it waits for the switch to finish.
	require.Eventually(t, func() bool {
		p, err1 := promoted.Info(ctx, "replication").Result()
		d, err2 := demoted.Info(ctx, "replication").Result()
		return err1 == nil && err2 == nil && strings.Contains(p, "role:master") && strings.Contains(d, "role:slave")
	}, 60*time.Second, 100*time.Millisecond, "the old master becomes a replica")
	phase("failed over")

	api.enter(t, 10, 20)
	api.waitCompleted(t, 20, 2*time.Minute)
	phase("all 20 runs completed")
	api.requireOneMessagePerStep(t, 20)
	// The new master holds Waymark's queue: it is the one Waymark writes to.
	n, err := promoted.Exists(ctx, "asynq:{default}:processed").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// TestRedisCluster runs a journey through `waymark serve` on a three-master
// Redis Cluster (with a password), and checks that Asynq's queue lives in
// one hash slot while Waymark's own keys spread over the nodes.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	bin := testenv.Binary(t, "redis-server")
	cli := testenv.Binary(t, "redis-cli")
	const pw = "cluster-pass"
	var nodes []string
	for i := 0; i < 3; i++ {
		p := freePort(t, true)
		startRedisServer(t, bin, p, pw, "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--requirepass", pw, "--masterauth", pw)
		nodes = append(nodes, fmt.Sprintf("127.0.0.1:%d", p))
	}
	out, err := exec.Command(cli, append(append([]string{"-a", pw, "--no-auth-warning", "--cluster", "create"}, nodes...),
		"--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes, Password: pw})
	defer cc.Close()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		ok := true
		for _, n := range nodes {
			c := redis.NewClient(&redis.Options{Addr: n, Password: pw})
			info, err := c.ClusterInfo(ctx).Result()
			_ = c.Close()
			ok = ok && err == nil && strings.Contains(info, "cluster_state:ok")
		}
		return ok
	}, 30*time.Second, 100*time.Millisecond, "cluster comes up")

	vars := map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_LOG_LEVEL": "error",
		"WAYMARK_REDIS_URL": fmt.Sprintf("redis-cluster://:%s@%s,%s", pw, nodes[0], nodes[1])} // the third is discovered
	api := newSmallJourney(t, vars)
	api.enter(t, 0, 20)
	api.waitCompleted(t, 20, 2*time.Minute)
	api.requireOneMessagePerStep(t, 20)

	// /metrics reads the queues through the cluster.
	code, body := httpGet(t, api.base+"/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, `waymark_metrics_source_up{source="redis"} 1`)

	// Every key of a queue hashes to the queue's slot ({default}), so Asynq's
	// multi-key scripts work; Waymark's rate-limit keys carry their own tag.
	slot, err := cc.ClusterKeySlot(ctx, "asynq:{default}:pending").Result()
	require.NoError(t, err)
	var keys []string
	var keysMu sync.Mutex
	require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, "*").Result()
		keysMu.Lock()
		keys = append(keys, ks...)
		keysMu.Unlock()
		return err
	}))
	sawQueue, sawLimit := false, false
	for _, k := range keys {
		if strings.HasPrefix(k, "asynq:{default}:") {
			sawQueue = true
			s, err := cc.ClusterKeySlot(ctx, k).Result()
			require.NoError(t, err)
			require.Equal(t, slot, s, k)
		}
		sawLimit = sawLimit || strings.HasPrefix(k, "waymark:ratelimit:{journey:")
	}
	require.True(t, sawQueue, "queue keys: %v", keys)
	require.True(t, sawLimit, "the journey's rate limit ran through the cluster: %v", keys)
}

// TestEmbeddedRedisNeedsItsPassword: the in-process Redis of `waymark
// serve` listens on loopback, where any local process can dial it (F10 of
// the 2026-12 security review). Without the password of this start it
// refuses every command; the client Waymark builds (the one every Asynq
// client, server, inspector and rate limiter shares) has it.
func TestEmbeddedRedisNeedsItsPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, closeRedis, err := openRedis(ctx, &config{})
	require.NoError(t, err)
	defer closeRedis()
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())

	addr := rdb.(*redis.Client).Options().Addr
	host, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host, "loopback only")
	anon := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1})
	defer anon.Close()
	for _, cmd := range []*redis.StatusCmd{anon.Ping(ctx), anon.FlushAll(ctx)} {
		require.ErrorContains(t, cmd.Err(), "NOAUTH", "%s without the password", cmd.Name())
	}
	require.ErrorContains(t, anon.Get(ctx, "k").Err(), "NOAUTH")
	require.Equal(t, "v", rdb.Get(ctx, "k").Val(), "nothing was flushed")
}

// TestServeEmbeddedRunsAJourney: with the password in place, embedded
// `serve` still takes an event, queues its run in the in-process Redis,
// wakes it after a delay and completes it.
func TestServeEmbeddedRunsAJourney(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"WAYMARK_DATA_DIR": t.TempDir()}
	r := runCLI(t, vars, "", "apikeys", "create", "--name", "e2e", "--scopes", "journeys:read,journeys:write,events:write,profiles:write")
	require.Equal(t, 0, r.code, r.stderr)
	key := strings.TrimSpace(r.stdout)
	base, log, stop := startServe(t, vars)

	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		require.NoError(t, json.Unmarshal(raw, &out), "%s %s: %s", method, path, raw)
		return resp.StatusCode, out
	}
	doc := `{"format": 1, "name": "Embedded", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
		{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hello", "body": "<p>1</p>"}},
		{"id": "wait", "kind": "delay", "config": {"duration": "1s"}},
		{"id": "again", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Again", "body": "<p>2</p>"}},
		{"id": "done", "kind": "exit", "config": {}}],
		"edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "wait"}, {"from": "wait", "to": "again"}, {"from": "again", "to": "done"}]}`
	code, j := call("POST", "/api/v1/journeys", doc)
	require.Equal(t, 201, code, j)
	id := j["id"].(string)
	code, out := call("POST", "/api/v1/journeys/"+id+"/publish", "")
	require.Equal(t, 200, code, out)
	code, out = call("POST", "/api/v1/profiles", `{"external_id": "ada", "email": "ada@example.com"}`)
	require.Equal(t, 201, code, out)
	code, out = call("POST", "/api/v1/events", `{"name": "signed_up", "profile_id": "ada"}`)
	require.Equal(t, 202, code, out)

	var last map[string]any
	require.Eventually(t, func() bool {
		_, last = call("GET", "/api/v1/runs?journey_id="+id, "")
		runs, _ := last["runs"].([]any)
		return len(runs) == 1 && runs[0].(map[string]any)["status"] == "completed"
	}, 60*time.Second, 100*time.Millisecond, "the run must complete: %v\n%s", last, log)
	require.Equal(t, 0, stop())
	require.NotContains(t, log.String(), "NOAUTH")
}
