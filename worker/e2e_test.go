package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// liveStack is the engine on real Redis (Asynq) and a real database.
type liveStack struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	rdb    *redis.Client
	eng    *worker.Engine
	inbox  *inbox
	svc    *journeys.Service
	client *asynq.Client
	logger *slog.Logger
}

func newLiveStack(t *testing.T, dbURL string) *liveStack {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t, testenv.RedisDBEngine))
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	require.NoError(t, rdb.FlushDB(ctx).Err())
	st := openStore(t, dbURL, nil)
	reg := registry(t)
	client := asynq.NewClientFromRedisClient(rdb)
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &liveStack{t: t, ctx: ctx, st: st, rdb: rdb, inbox: &inbox{}, svc: journeys.New(st, reg), client: client, logger: logger}
	s.eng = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: s.inbox, Enqueuer: client, Logger: logger})
	return s
}

// startWorker runs an Asynq server with the engine's handler.
func (s *liveStack) startWorker() *asynq.Server {
	s.t.Helper()
	srv := worker.NewServer(s.rdb, worker.Config{Concurrency: 8, ShutdownTimeout: 2 * time.Second}, s.logger)
	mux := asynq.NewServeMux()
	mux.Handle(worker.TaskAdvance, s.eng)
	require.NoError(s.t, srv.Start(mux))
	s.t.Cleanup(srv.Shutdown)
	return srv
}

func (s *liveStack) waitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *liveStack) countRuns(jid, status string) int {
	s.t.Helper()
	n, after := 0, ""
	for {
		runs, next, err := s.st.ListRuns(s.ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Status: status, Limit: 1000, After: after})
		require.NoError(s.t, err)
		n += len(runs)
		if next == "" {
			return n
		}
		after = next
	}
}

// TestEngineOnRealRedisSurvivesFlush pushes 1,000 runs through Asynq on real
// Redis and PostgreSQL, flushes Redis while they all wait on a delay, and checks that
// the reconciler brings every run to the end with each message sent once.
func TestEngineOnRealRedisSurvivesFlush(t *testing.T) {
	s := newLiveStack(t, testenv.PostgresURL(t))
	doc := journey("Live", "", `{"id": "check", "kind": "condition", "config": {"expr": "profile.vip == true"}},
		{"id": "ab", "kind": "split", "config": {"variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}},
		{"id": "first", "kind": "send_email", "config": {"connector": "sandbox", "subject": "First", "body": "<p>1</p>"}},
		{"id": "wait", "kind": "delay", "config": {"duration": "20s"}},
		{"id": "second", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Second", "body": "<p>2</p>"}},
		{"id": "done", "kind": "exit", "config": {}}`,
		`{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "ab"}, {"from": "check", "port": "no", "to": "ab"},
		 {"from": "ab", "port": "a", "to": "first"}, {"from": "ab", "port": "b", "to": "first"},
		 {"from": "first", "to": "wait"}, {"from": "wait", "to": "second"}, {"from": "second", "to": "done"}`)
	j, _, err := s.svc.Create(s.ctx, store.DefaultWorkspaceID, doc, "t", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = s.svc.Publish(s.ctx, store.DefaultWorkspaceID, j.ID, "t")
	require.NoError(t, err)

	s.startWorker()
	s.startWorker() // two workers share the queue and race for nothing
	const n = 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			email := fmt.Sprintf("p%d@example.com", i)
			p, _, err := s.st.UpsertProfile(s.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprint("p", i), Email: &email,
				Attributes: map[string]any{"vip": i%2 == 0}})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.eng.Enter(s.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, ProfileID: p.ID}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	// Flush once every run has sent its first message; on a slow machine
	// the earliest may already be past the delay, which changes nothing:
	// the flush still takes the schedule of all the others.
	s.waitFor("every run to send its first message", 120*time.Second, func() bool { return len(s.inbox.sent()) >= n })
	waiting := s.countRuns(j.ID, store.RunWaiting)
	require.Greater(t, waiting, n/2, "most runs wait on the delay when Redis is flushed")

	// Redis loses everything: the scheduled delays are gone.
	require.NoError(t, s.rdb.FlushDB(s.ctx).Err())
	rec := worker.NewReconciler(s.eng, s.rdb, time.Second, 30*time.Second)
	enqueued, full, err := rec.ReconcileOnce(s.ctx)
	require.NoError(t, err)
	require.True(t, full, "the missing epoch marker triggers a full rebuild")
	require.GreaterOrEqual(t, enqueued, waiting-8, "every waiting run is re-enqueued (a few may be mid-step in a worker)")
	// A second pass finds nothing missing (the marker is back, nothing is overdue).
	enqueued, full, err = rec.ReconcileOnce(s.ctx)
	require.NoError(t, err)
	require.False(t, full)
	require.Zero(t, enqueued)

	s.waitFor("every run to complete", 90*time.Second, func() bool { return s.countRuns(j.ID, store.RunCompleted) == n })
	msgs := s.inbox.sent()
	require.Len(t, msgs, 2*n, "zero lost, zero duplicated")
	keys := map[string]bool{}
	for _, m := range msgs {
		require.False(t, keys[m.IdempotencyKey], "duplicate delivery %s", m.IdempotencyKey)
		keys[m.IdempotencyKey] = true
	}
	ds, _, err := s.st.ListDeliveries(s.ctx, store.DefaultWorkspaceID, store.DeliveryFilter{Limit: 500})
	require.NoError(t, err)
	for _, d := range ds {
		require.Equal(t, store.DeliveryDelivered, d.Status)
		require.Equal(t, 1, d.Attempts)
	}
}

type failingEnqueuer struct{}

func (failingEnqueuer) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, fmt.Errorf("redis: connection refused")
}

// TestOutboxRelayAfterRedisOutage: an entry accepted while Redis is down is
// kept in the outbox and enqueued by the relay once Redis answers.
func TestOutboxRelayAfterRedisOutage(t *testing.T) {
	s := newLiveStack(t, testenv.SQLiteURL(t))
	j, _, err := s.svc.Create(s.ctx, store.DefaultWorkspaceID, journey("Relay", "", mailNode, `{"from": "start", "to": "mail"}`), "t", journeys.SaveOptions{})
	require.NoError(t, err)
	_, err = s.svc.Publish(s.ctx, store.DefaultWorkspaceID, j.ID, "t")
	require.NoError(t, err)
	email := "relay@example.com"
	p, _, err := s.st.UpsertProfile(s.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: "relay", Email: &email})
	require.NoError(t, err)

	down := worker.NewEngine(worker.EngineConfig{Store: s.st, Registry: registry(t), Connectors: s.inbox, Enqueuer: failingEnqueuer{}, Logger: s.logger})
	r, err := down.Enter(s.ctx, worker.EnterRequest{WorkspaceID: store.DefaultWorkspaceID, JourneyID: j.ID, ProfileID: p.ID})
	require.NoError(t, err, "the entry is accepted: it is in the database")
	items, err := s.st.ListOutbox(s.ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, items, 1)

	s.startWorker()
	time.Sleep(1100 * time.Millisecond) // the relay leaves items younger than a second to their writer
	moved, err := worker.NewRelay(s.eng, time.Second).Drain(s.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, moved)
	s.waitFor("the run to complete", 30*time.Second, func() bool {
		got, err := s.st.GetRun(s.ctx, r.ID)
		return err == nil && got.Status == store.RunCompleted
	})
	require.Len(t, s.inbox.sent(), 1)
	items, err = s.st.ListOutbox(s.ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, items)
}

// TestLeaderLease: one holder at a time; a holder that stops renewing loses it.
func TestLeaderLease(t *testing.T) {
	s := newLiveStack(t, testenv.SQLiteURL(t))
	name := fmt.Sprint("lease-", time.Now().UnixNano())
	a := worker.NewLease(s.rdb, name, 500*time.Millisecond)
	b := worker.NewLease(s.rdb, name, 500*time.Millisecond)
	ok, err := a.Acquire(s.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.Acquire(s.ctx)
	require.NoError(t, err)
	require.False(t, ok, "one leader")
	ok, err = a.Acquire(s.ctx)
	require.NoError(t, err)
	require.True(t, ok, "the leader renews")
	a.Release(s.ctx)
	ok, err = b.Acquire(s.ctx)
	require.NoError(t, err)
	require.True(t, ok, "released: another takes over")
	// b dies without releasing: after the TTL a can lead again.
	time.Sleep(600 * time.Millisecond)
	ok, err = a.Acquire(s.ctx)
	require.NoError(t, err)
	require.True(t, ok)
}
