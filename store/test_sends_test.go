package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/store"
)

func TestTestSends(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "ts")
		a, err := b.store.CreateTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, NodeID: "hello", Kind: "send_email",
			Connector: "sandbox", Recipient: "me@example.com", Subject: "[Test] Hi", Body: "<p>hi</p>", Status: "delivered", SentBy: "me"})
		require.NoError(t, err)
		require.NotEmpty(t, a.ID)
		b.clock.Add(time.Second)
		_, err = b.store.CreateTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, Version: 1, NodeID: "sms", Kind: "send_sms",
			Connector: "twilio", Recipient: "+14155550123", Body: "[Test] hi", Status: "failed", Error: "bad number"})
		require.NoError(t, err)
		list, err := b.store.ListTestSends(b.ctx, b.ws, f.journey.ID, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "sms", list[0].NodeID, "newest first")
		require.Equal(t, "bad number", list[0].Error)
		require.Equal(t, "[Test] Hi", list[1].Subject)

		// Test sends are not deliveries: analytics never see them.
		ds, _, err := b.store.ListDeliveries(b.ctx, b.ws, store.DeliveryFilter{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, ds)
		other, err := b.store.ListTestSends(b.ctx, "elsewhere", f.journey.ID, 10)
		require.NoError(t, err)
		require.Empty(t, other)
	})
}

// The test-send quota (issue 17, F11): per actor and per workspace, over
// sliding windows, with the wait until a place frees up.
func TestTestSendQuota(t *testing.T) {
	t.Parallel()
	conformance(t, func(t *testing.T, b testBundle) {
		f := newRunFixture(t, b, "tq")
		q := store.TestSendQuota{PerActor: 3, ActorWindow: 10 * time.Minute, PerWorkspace: 5, WorkspaceWindow: time.Hour}
		reserve := func(actor string) (store.TestSend, error) {
			return b.store.ReserveTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, NodeID: "hello", Kind: "send_email",
				Connector: "sandbox", Recipient: "me@example.com", SentBy: actor, ActorID: actor}, q)
		}
		var first store.TestSend
		for i := 0; i < 3; i++ {
			ts, err := reserve("api_key:a")
			require.NoError(t, err, "send %d", i+1)
			require.Equal(t, store.TestSendSending, ts.Status)
			if i == 0 {
				first = ts
			}
			b.clock.Add(time.Minute)
		}
		_, err := reserve("api_key:a")
		require.ErrorIs(t, err, store.ErrTestSendQuota)
		var qe *store.TestSendQuotaError
		require.ErrorAs(t, err, &qe)
		require.Equal(t, "actor", qe.Scope)
		require.Equal(t, 3, qe.Limit)
		require.Equal(t, 7*time.Minute, qe.RetryAfter, "the first send leaves the 10-minute window in 7 minutes")

		// Another actor has its own allowance, up to the workspace's.
		for i := 0; i < 2; i++ {
			_, err := reserve("user:b")
			require.NoError(t, err)
		}
		_, err = reserve("user:b")
		require.ErrorAs(t, err, &qe)
		require.Equal(t, "workspace", qe.Scope)
		require.Equal(t, 57*time.Minute, qe.RetryAfter, "the workspace's oldest send leaves the hour in 57 minutes")

		// A reservation whose message never went out gives its place back;
		// a finished one keeps counting, with its outcome recorded.
		last, err := b.store.ListTestSends(b.ctx, b.ws, f.journey.ID, 1)
		require.NoError(t, err)
		require.NoError(t, b.store.ReleaseTestSend(b.ctx, b.ws, last[0].ID))
		_, err = reserve("user:b")
		require.NoError(t, err, "the released place is free again")
		first.Status, first.Subject, first.ProviderID = store.DeliveryDelivered, "[Test] Hi", "p-1"
		done, err := b.store.FinishTestSend(b.ctx, first)
		require.NoError(t, err)
		require.Equal(t, store.DeliveryDelivered, done.Status)
		require.Equal(t, "[Test] Hi", done.Subject)
		require.Equal(t, first.CreatedAt.Unix(), done.CreatedAt.Unix(), "the reservation's time stays")
		require.NoError(t, b.store.ReleaseTestSend(b.ctx, b.ws, first.ID))
		_, err = reserve("user:c")
		require.ErrorAs(t, err, &qe, "a finished send is not released")
		_, err = b.store.FinishTestSend(b.ctx, store.TestSend{WorkspaceID: "elsewhere", ID: first.ID, Status: "sent"})
		require.ErrorIs(t, err, store.ErrNotFound)

		// Past the actor's window its allowance is back, but the workspace's
		// hour is not over yet.
		b.clock.Add(8 * time.Minute)
		_, err = reserve("api_key:a")
		require.ErrorAs(t, err, &qe)
		require.Equal(t, "workspace", qe.Scope)
		b.clock.Add(50 * time.Minute)
		_, err = reserve("api_key:a")
		require.NoError(t, err)
	})
}

// TestTestSendQuotaConcurrent: many requests at once, from two processes
// (two stores on one database), never get past the limit together.
func TestTestSendQuotaConcurrent(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := testenv.SQLiteURL(t)
			if dialect == store.DialectPostgres {
				url = testenv.PostgresURL(t)
			}
			b := setup(t, url)
			other, err := store.Open(b.ctx, url, store.Options{Now: b.clock.Now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = other.Close() })
			f := newRunFixture(t, b, "tc")
			q := store.TestSendQuota{PerActor: 7, ActorWindow: 10 * time.Minute, PerWorkspace: 100, WorkspaceWindow: time.Hour}
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				ok, full int
			)
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func(s *store.Store) {
					defer wg.Done()
					_, err := s.ReserveTestSend(b.ctx, store.TestSend{WorkspaceID: b.ws, JourneyID: f.journey.ID, NodeID: "hello",
						Kind: "send_email", Recipient: "me@example.com", ActorID: "api_key:k"}, q)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, store.ErrTestSendQuota):
						full++
					default:
						t.Errorf("reserving: %v", err)
					}
				}([]*store.Store{b.store, other}[i%2])
			}
			wg.Wait()
			require.Equal(t, 7, ok, "exactly the quota goes through")
			require.Equal(t, 33, full)
		})
	}
}
