package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/worker"
)

type bucket struct {
	perSecond float64
	burst     int
	wait      time.Duration
}

func (b *bucket) Take(_ context.Context, _ string, perSecond float64, burst int) (time.Duration, error) {
	b.perSecond, b.burst = perSecond, burst
	return b.wait, nil
}

func TestJourneyLimiterTranslatesSettings(t *testing.T) {
	t.Parallel()
	b := &bucket{}
	l := worker.NewJourneyLimiter(b)
	ok, _, err := l.Take(context.Background(), "journey:j", 600, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 10.0, b.perSecond, "600 per minute is 10 per second")
	require.Equal(t, 60, b.burst)
	b.wait = 250 * time.Millisecond
	ok, wait, err := l.Take(context.Background(), "journey:j", 50, time.Second)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 250*time.Millisecond, wait)
	require.Equal(t, 5, b.burst)
}

func TestJourneyRateLimitReschedules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := &bucket{wait: 30 * time.Second}
	h.setLimiter(worker.NewJourneyLimiter(b))
	jid := h.publish(journey("Limited", `{"reentry": "always", "rate_limit": {"per_minute": 1}}`, mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("rl", nil, "email", "rl@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	require.Empty(t, h.inbox.sent(), "limited: waits")
	require.Equal(t, []string{"start:out:entered"}, h.path(r.ID), "no ledger entry for waiting on the limit")
	b.wait = 0
	h.advance(30 * time.Second)
	require.Len(t, h.inbox.sent(), 1)
	require.Equal(t, []string{"start:out:entered", "mail:out:sent"}, h.path(r.ID))
}
