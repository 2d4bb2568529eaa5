package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/internal/broadcasts"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// broadcastHarness is newHarness on the database at url, with the store's
// suppression list, and the broadcasts service on the same clock.
func broadcastHarness(t *testing.T, url string) (*harness, *broadcasts.Service) {
	t.Helper()
	c := &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	st := openStore(t, url, c.Now)
	reg := registry(t)
	h := &harness{t: t, ctx: context.Background(), st: st, svc: journeys.New(st, reg), clock: c,
		queue: &taskQueue{clock: c, tasks: map[string]queued{}, active: map[string]bool{}, retries: map[string]int{}}, inbox: &inbox{}}
	h.timers = &timers{clock: c}
	h.cfg = worker.EngineConfig{
		Store: st, Registry: reg, Connectors: h.inbox, Enqueuer: h.queue, Now: c.Now, After: h.timers.After, Suppressions: st,
		Segments: segments.New(st, segments.Options{Now: c.Now}),
		Logger:   slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	h.eng = worker.NewEngine(h.cfg)
	return h, broadcasts.New(st, h.svc, h.eng).WithClock(c.Now)
}

// broadcastDBs are the databases the broadcast tests run on: a SQLite file,
// and PostgreSQL when WAYMARK_TEST_DATABASE_URL is set.
func broadcastDBs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return testenv.SQLiteURL(t) },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
}

// audience makes n newsletter profiles with email addresses (the last two
// of them outside the audience): 3 opted out of email, one suppressed,
// one in Auckland (22:00 there: quiet hours).
func broadcastAudience(t *testing.T, h *harness, n int) (eligible map[string]bool) {
	t.Helper()
	eligible = map[string]bool{}
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("b%03d@example.com", i)
		u := store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("b%03d", i), Email: &email,
			Attributes: map[string]any{"newsletter": i < n-2}}
		switch {
		case i < 3:
			u.Consent = map[string]string{"email": "unsubscribed"}
		case i == 3:
			_, err := h.st.AddSuppression(h.ctx, store.Suppression{WorkspaceID: store.DefaultWorkspaceID, Channel: "email", Address: email, Reason: "bounce", Source: "test"})
			require.NoError(t, err)
		case i == 4:
			tz := "Pacific/Auckland"
			u.Timezone = &tz
		}
		_, _, err := h.st.UpsertProfile(h.ctx, u)
		require.NoError(t, err)
		if i >= 4 && i < n-2 {
			eligible[email] = true
		}
	}
	return eligible
}

func sentTo(h *harness) map[string]int {
	out := map[string]int{}
	for _, m := range h.inbox.sent() {
		out[m.Email]++
	}
	return out
}

func TestBroadcastSendsOncePerRecipientWithPolicy(t *testing.T) {
	t.Parallel()
	for name, url := range broadcastDBs(t) {
		t.Run(name, func(t *testing.T) {
			h, svc := broadcastHarness(t, url(t))
			eligible := broadcastAudience(t, h, 30)
			b, err := svc.Create(h.ctx, store.DefaultWorkspaceID, broadcasts.Input{
				Name: "June news", Audience: "profile.newsletter == true", Channel: "email", Connector: "sandbox",
				Subject: "News for {{ profile.external_id }}", HTML: "<p>Hello</p>",
				QuietHours: &broadcasts.QuietHours{Start: "21:00", End: "08:00"},
			}, "tester")
			require.NoError(t, err)
			require.Equal(t, store.BroadcastScheduled, b.Status)

			tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 7})
			require.NoError(t, tr.RunOnce(h.ctx))
			h.drain()
			require.NoError(t, tr.RunOnce(h.ctx), "a second pass finds the tick done")
			h.drain()

			got, err := svc.Get(h.ctx, store.DefaultWorkspaceID, b.ID)
			require.NoError(t, err)
			p := got.Progress
			require.EqualValues(t, 30, p.Scanned)
			require.EqualValues(t, 28, p.Matched)
			require.EqualValues(t, 28, p.Entered)
			require.EqualValues(t, 3, p.NoConsent)
			require.EqualValues(t, 1, p.Suppressed)
			require.EqualValues(t, 1, p.QuietHours, "Auckland is at 22:00")
			require.EqualValues(t, 23, p.Sent)
			require.EqualValues(t, 1, p.Waiting)
			require.Equal(t, store.BroadcastSending, got.Status, "one run waits out quiet hours")

			h.advance(12 * time.Hour) // 08:00 in Auckland has passed
			got, err = svc.Get(h.ctx, store.DefaultWorkspaceID, b.ID)
			require.NoError(t, err)
			require.EqualValues(t, 24, got.Progress.Sent)
			require.Equal(t, store.BroadcastDone, got.Status)
			require.NotNil(t, got.FinishedAt)
			j, err := h.st.GetJourney(h.ctx, store.DefaultWorkspaceID, b.JourneyID)
			require.NoError(t, err)
			require.Equal(t, store.JourneyArchived, j.Status, "a done broadcast leaves the trigger loop")

			sent := sentTo(h)
			require.Len(t, sent, len(eligible))
			for email, n := range sent {
				require.True(t, eligible[email], email)
				require.Equal(t, 1, n, email)
			}

			// A second broadcast under a cap of one email a day reaches nobody.
			b2, err := svc.Create(h.ctx, store.DefaultWorkspaceID, broadcasts.Input{
				Name: "Same day", Audience: "profile.newsletter == true", Channel: "email", Connector: "sandbox",
				Subject: "Again", HTML: "<p>Again</p>", FrequencyCap: &broadcasts.FrequencyCap{Count: 1, Period: "day"},
			}, "tester")
			require.NoError(t, err)
			require.NoError(t, tr.RunOnce(h.ctx))
			h.drain()
			got, err = svc.Get(h.ctx, store.DefaultWorkspaceID, b2.ID)
			require.NoError(t, err)
			require.EqualValues(t, 24, got.Progress.FrequencyCap)
			require.EqualValues(t, 0, got.Progress.Sent)
			require.Len(t, h.inbox.sent(), 24)
		})
	}
}

func TestBroadcastCancel(t *testing.T) {
	t.Parallel()
	h, svc := broadcastHarness(t, testenv.SQLiteURL(t))
	broadcastAudience(t, h, 30)
	in := broadcasts.Input{Name: "Cancel me", Audience: "true", Channel: "sms", Connector: "sandbox", Text: "Hi"}
	for i := 0; i < 30; i++ {
		phone := fmt.Sprintf("+4420790%05d", i)
		_, _, err := h.st.UpsertProfile(h.ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("b%03d", i), Phone: &phone})
		require.NoError(t, err)
	}

	// Cancelled before its time: it never enters anybody.
	later := h.clock.Now().Add(time.Hour)
	in.ScheduledAt = &later
	b, err := svc.Create(h.ctx, store.DefaultWorkspaceID, in, "tester")
	require.NoError(t, err)
	_, err = svc.Cancel(h.ctx, store.DefaultWorkspaceID, b.ID, "tester")
	require.NoError(t, err)
	h.clock.Add(2 * time.Hour)
	tr := worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 7})
	require.NoError(t, tr.RunOnce(h.ctx))
	h.drain()
	require.Empty(t, h.inbox.sent())
	_, err = svc.Cancel(h.ctx, store.DefaultWorkspaceID, b.ID, "tester")
	require.ErrorIs(t, err, broadcasts.ErrEnded)

	// Cancelled mid-way: 10 sent, the 20 others never.
	in.ScheduledAt = nil
	b, err = svc.Create(h.ctx, store.DefaultWorkspaceID, in, "tester")
	require.NoError(t, err)
	require.NoError(t, tr.RunOnce(h.ctx))
	due := h.queue.due()
	require.Len(t, due, 30)
	for _, it := range due[:10] {
		require.NoError(t, h.eng.ProcessAttempt(h.ctx, asynq.NewTask(worker.TaskAdvance, it.payload), 0, maxRetry))
		h.queue.done(it.id)
	}
	got, err := svc.Cancel(h.ctx, store.DefaultWorkspaceID, b.ID, "tester")
	require.NoError(t, err)
	require.Equal(t, store.BroadcastCancelled, got.Status)
	// The tasks already handed out still run (a worker had them): each
	// finds its run ended.
	for _, it := range due[10:] {
		require.NoError(t, h.eng.ProcessAttempt(h.ctx, asynq.NewTask(worker.TaskAdvance, it.payload), 0, maxRetry))
		h.queue.done(it.id)
	}
	h.advance(48 * time.Hour)
	require.NoError(t, tr.RunOnce(h.ctx))
	h.drain()
	require.Len(t, h.inbox.sent(), 10)
	got, err = svc.Get(h.ctx, store.DefaultWorkspaceID, b.ID)
	require.NoError(t, err)
	require.EqualValues(t, 10, got.Progress.Sent)
	require.EqualValues(t, 20, got.Progress.Cancelled)
	require.Equal(t, store.BroadcastCancelled, got.Status)
}

// TestBroadcastWorkerKilled: a worker dies with half the broadcast's tasks
// taken; a new engine takes them all again (Asynq hands a dead worker's
// tasks out again), and nobody gets the message twice.
func TestBroadcastWorkerKilled(t *testing.T) {
	t.Parallel()
	for name, url := range broadcastDBs(t) {
		t.Run(name, func(t *testing.T) {
			h, svc := broadcastHarness(t, url(t))
			eligible := broadcastAudience(t, h, 30)
			b, err := svc.Create(h.ctx, store.DefaultWorkspaceID, broadcasts.Input{
				Name: "Crash", Audience: "profile.newsletter == true", Channel: "email", Connector: "sandbox", Subject: "Hi", HTML: "<p>Hi</p>",
			}, "tester")
			require.NoError(t, err)
			require.NoError(t, worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 5}).RunOnce(h.ctx))
			due := h.queue.due()
			require.Len(t, due, 28)
			for _, it := range due[:14] {
				require.NoError(t, h.eng.ProcessAttempt(h.ctx, asynq.NewTask(worker.TaskAdvance, it.payload), 0, maxRetry))
			}
			// The worker is gone; a new process starts its engine, and
			// every task (done or not) is delivered to it again.
			h.eng = worker.NewEngine(h.cfg)
			for _, it := range due {
				require.NoError(t, h.eng.ProcessAttempt(h.ctx, asynq.NewTask(worker.TaskAdvance, it.payload), 1, maxRetry))
				h.queue.done(it.id)
			}
			h.advance(12 * time.Hour)
			require.NoError(t, worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{Batch: 5}).RunOnce(h.ctx))
			h.drain()
			sent := sentTo(h)
			require.Len(t, sent, len(eligible))
			for email, n := range sent {
				require.Equal(t, 1, n, email)
			}
			got, err := svc.Get(h.ctx, store.DefaultWorkspaceID, b.ID)
			require.NoError(t, err)
			require.EqualValues(t, len(eligible), got.Progress.Sent)
			require.Equal(t, store.BroadcastDone, got.Status)
		})
	}
}

// slowInbox is the test inbox with a send that takes a while, so a
// worker can be stopped mid-broadcast.
type slowInbox struct{ *inbox }

func (s slowInbox) Resolve(ctx context.Context, ws, name string) (connectors.Connector, error) {
	if _, err := s.inbox.Resolve(ctx, ws, name); err != nil {
		return nil, err
	}
	return s, nil
}

func (s slowInbox) Send(ctx context.Context, m connectors.Message) (connectors.Result, error) {
	time.Sleep(15 * time.Millisecond)
	return s.inbox.Send(ctx, m)
}

// TestBroadcastOnRealRedisWorkerStopped: a broadcast on PostgreSQL and
// Asynq on real Redis; its worker is shut down mid-broadcast and a new
// process (engine and Asynq server) finishes it: every recipient gets the
// message once. Not parallel: it flushes the engine's Redis database.
func TestBroadcastOnRealRedisWorkerStopped(t *testing.T) {
	s := newLiveStack(t, testenv.PostgresURL(t))
	reg := registry(t)
	slow := slowInbox{s.inbox}
	newEngine := func() *worker.Engine {
		return worker.NewEngine(worker.EngineConfig{Store: s.st, Registry: reg, Connectors: slow, Suppressions: s.st, Enqueuer: s.client, Logger: s.logger})
	}
	s.eng = newEngine()
	const n = 300
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("r%03d@example.com", i)
		u := store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: fmt.Sprintf("r%03d", i), Email: &email}
		if i%50 == 0 {
			u.Consent = map[string]string{"email": "opted_out"}
		}
		_, _, err := s.st.UpsertProfile(s.ctx, u)
		require.NoError(t, err)
	}
	svc := broadcasts.New(s.st, s.svc, s.eng)
	b, err := svc.Create(s.ctx, store.DefaultWorkspaceID, broadcasts.Input{Name: "Live", Audience: "true", Channel: "email", Connector: "sandbox",
		Subject: "Hi", HTML: "<p>Hi</p>"}, "tester")
	require.NoError(t, err)
	require.NoError(t, worker.NewTriggers(s.eng, s.st, nil, worker.TriggersConfig{Batch: 64}).RunOnce(s.ctx))

	srv := s.startWorker()
	s.waitFor("some sends", 60*time.Second, func() bool { return len(s.inbox.sent()) >= 40 })
	srv.Shutdown() // the process stops; its tasks in flight go back to the queue
	stoppedAt := len(s.inbox.sent())
	require.Less(t, stoppedAt, n-n/50, "stopped mid-broadcast")

	s.eng = newEngine()
	s.startWorker()
	go worker.NewRelay(s.eng, time.Second).Run(s.ctx)
	var got broadcasts.Broadcast
	s.waitFor("the broadcast to finish", 120*time.Second, func() bool {
		got, err = svc.Get(s.ctx, store.DefaultWorkspaceID, b.ID)
		require.NoError(t, err)
		return got.Status == store.BroadcastDone
	})
	sent := map[string]int{}
	for _, m := range s.inbox.sent() {
		sent[m.Email]++
	}
	require.Len(t, sent, n-n/50)
	for email, c := range sent {
		require.Equal(t, 1, c, email)
	}
	// A send the stopped worker was making when it went is reported
	// unknown (it may have gone out: the test inbox does not de-duplicate
	// by idempotency key, so the new worker does not send it again).
	// The report may settle a moment after the last run finishes (a
	// delivery the stopped worker left in flight is resolved by the new
	// one): wait for it to account for every recipient.
	for deadline := time.Now().Add(30 * time.Second); got.Progress.Sent+got.Progress.Unknown != n-n/50 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		got, err = svc.Get(s.ctx, store.DefaultWorkspaceID, b.ID)
		require.NoError(t, err)
	}
	require.EqualValues(t, n-n/50, got.Progress.Sent+got.Progress.Unknown, "%+v", got.Progress)
	require.EqualValues(t, n/50, got.Progress.NoConsent)
}

// TestBroadcastToSavedSegment: the page's segment picker sets the
// audience to in_segment("<name>"); the segment's definition at send time
// decides who gets it.
func TestBroadcastToSavedSegment(t *testing.T) {
	t.Parallel()
	h, svc := broadcastHarness(t, testenv.SQLiteURL(t))
	eligible := broadcastAudience(t, h, 12)
	_, err := h.st.CreateSegment(h.ctx, store.Segment{WorkspaceID: store.DefaultWorkspaceID, Name: "news", Expr: "profile.newsletter == true"})
	require.NoError(t, err)
	b, err := svc.Create(h.ctx, store.DefaultWorkspaceID, broadcasts.Input{Name: "Segment", Audience: `in_segment("news")`, Channel: "email",
		Connector: "sandbox", Subject: "S", HTML: "<p>S</p>"}, "tester")
	require.NoError(t, err)
	require.NoError(t, worker.NewTriggers(h.eng, h.st, nil, worker.TriggersConfig{}).RunOnce(h.ctx))
	h.advance(12 * time.Hour)
	got, err := svc.Get(h.ctx, store.DefaultWorkspaceID, b.ID)
	require.NoError(t, err)
	require.EqualValues(t, 10, got.Progress.Matched)
	require.EqualValues(t, len(eligible), got.Progress.Sent)
	require.Len(t, sentTo(h), len(eligible))
}
