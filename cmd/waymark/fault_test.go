package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// waymarkBinary builds the real binary once per test run.
func waymarkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "waymark-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "waymark")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

type proc struct {
	cmd *exec.Cmd
	log *syncBuffer
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(waymarkBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, log: &syncBuffer{}}
	cmd.Stderr = p.log
	cmd.Stdout = p.log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return p
}

// TestWorkerKilledMidRun runs journeys through real `waymark worker`
// processes on PostgreSQL and Redis, kills one with SIGKILL while it works,
// runs two more side by side, and checks that every run completed with
// each step's message delivered exactly once.
func TestWorkerKilledMidRun(t *testing.T) {
	t.Parallel()
	pg := testenv.PostgresURL(t)
	rd := testenv.RedisURL(t, testenv.RedisDBFault)
	ctx := context.Background()
	opt, err := redis.ParseURL(rd)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	require.NoError(t, rdb.FlushDB(ctx).Err())

	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	env := []string{"WAYMARK_DATABASE_URL=" + pg, "WAYMARK_REDIS_URL=" + rd, "WAYMARK_SECRET_KEY=" + key,
		"WAYMARK_WORKER_CONCURRENCY=4", "WAYMARK_SHUTDOWN_TIMEOUT=2s", "WAYMARK_LOG_LEVEL=" + os.Getenv("WAYMARK_TEST_LOG_LEVEL")}
	r := runCLI(t, map[string]string{"WAYMARK_DATABASE_URL": pg, "WAYMARK_REDIS_URL": rd, "WAYMARK_SECRET_KEY": key}, "", "migrate")
	require.Equal(t, 0, r.code, r.stderr)

	st, err := store.Open(ctx, pg, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)
	reg, err := newRegistry()
	require.NoError(t, err)
	svc := journeys.New(st, reg)
	doc := `{"format": 1, "name": "Crash test", "settings": {"reentry": "always"}, "nodes": [
		{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.id"}},
		{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hello", "body": "<p>1</p>"}},
		{"id": "wait", "kind": "delay", "config": {"duration": "2s"}},
		{"id": "again", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Again", "body": "<p>2</p>"}},
		{"id": "done", "kind": "exit", "config": {}}],
		"edges": [{"from": "start", "to": "hello"}, {"from": "hello", "to": "wait"}, {"from": "wait", "to": "again"}, {"from": "again", "to": "done"}]}`
	j, _, err := svc.Create(ctx, store.DefaultWorkspaceID, []byte(doc), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)

	first := startProc(t, env, "worker")
	// Entries come in through the engine, as the web process would take them.
	eng := worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Enqueuer: asynq.NewClientFromRedisClient(rdb), Connectors: unusedResolver{}})
	const n = 400
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("k%d@example.com", i)
		p, _, err := st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("k", i), Email: &email})
		require.NoError(t, err)
		_, err = eng.Enter(ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, ProfileID: p.ID})
		require.NoError(t, err)
	}
	deliveries := func() int {
		ds, _, err := st.ListDeliveries(ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 500})
		require.NoError(t, err)
		if len(ds) < 500 {
			return len(ds)
		}
		n, err := st.CountRuns(ctx, j.ID, "")
		require.NoError(t, err)
		return int(n)
	}
	waitUntil := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				counts := map[string]int64{}
				for _, s := range []string{store.RunActive, store.RunWaiting, store.RunCompleted, store.RunFailed} {
					counts[s], _ = st.CountRuns(ctx, j.ID, s)
				}
				stuck, _, _ := st.ListRuns(ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: j.ID, Status: store.RunActive, Limit: 3})
				t.Fatalf("timed out waiting for %s: runs by status %v; some active: %+v\nfirst worker's log:\n%s", what, counts, stuck, first.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitUntil("the first worker to get going", 60*time.Second, func() bool { return deliveries() >= 50 })
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_, _ = first.cmd.Process.Wait()

	// Two workers race for what is left, and for what the dead one held:
	// Asynq recovers its leased tasks once the 30 s lease has expired (its
	// recoverer looks every minute), and a delivery the dead worker had
	// started is retried once its send lease (75 s) is over — the sandbox
	// de-duplicates on the idempotency key, so it is re-sent, once.
	second := startProc(t, env, "worker")
	third := startProc(t, env, "worker")
	t.Cleanup(func() {
		if t.Failed() {
			_ = os.WriteFile(filepath.Join(os.TempDir(), "waymark-fault-logs.txt"),
				[]byte("FIRST\n"+first.log.String()+"\nSECOND\n"+second.log.String()+"\nTHIRD\n"+third.log.String()), 0o600)
		}
	})
	waitUntil("every run to complete", 4*time.Minute, func() bool {
		c, err := st.CountRuns(ctx, j.ID, store.RunCompleted)
		require.NoError(t, err)
		return c == n
	})

	// Zero lost runs, zero duplicate deliveries: exactly one delivered
	// message per run and node.
	perRunNode := map[string]int{}
	after := ""
	for {
		ds, next, err := st.ListDeliveries(ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 500, After: after})
		require.NoError(t, err)
		for _, d := range ds {
			require.Equal(t, store.DeliveryDelivered, d.Status, "delivery %s", d.ID)
			perRunNode[d.RunID+"/"+d.NodeID]++
		}
		if next == "" {
			break
		}
		after = next
	}
	require.Len(t, perRunNode, 2*n)
	for k, c := range perRunNode {
		require.Equal(t, 1, c, "duplicate delivery for %s", k)
	}
	for _, p := range []*proc{second, third} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		_, _ = p.cmd.Process.Wait()
		require.NotContains(t, p.log.String(), "panic")
	}
	require.False(t, strings.Contains(second.log.String()+third.log.String(), "level=ERROR"), "%s%s", second.log.String(), third.log.String())
}

// unusedResolver: the test's own engine only enters runs; the workers send.
type unusedResolver struct{}

func (unusedResolver) Resolve(context.Context, string, string) (connectors.Connector, error) {
	return nil, fmt.Errorf("not used")
}
