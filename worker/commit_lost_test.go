package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/worker"
)

// commitLost lets the first pre-send commit land but reports it failed, as
// a connection lost right after COMMIT does.
type commitLost struct {
	*store.Store
	lost atomic.Bool
}

func (s *commitLost) CreateStepDelivery(ctx context.Context, d store.Delivery, lease time.Time) (store.Delivery, error) {
	got, err := s.Store.CreateStepDelivery(ctx, d, lease)
	if err == nil && s.lost.CompareAndSwap(false, true) {
		return store.Delivery{}, errors.New("unexpected EOF after COMMIT")
	}
	return got, err
}

// An attempt whose pre-send commit failed never called the provider: it
// says so on the delivery, so the retry sends (once) instead of reporting
// a message that certainly never went as "may have gone out".
func TestPreSendCommitLostIsRetriedAsUnsent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.cfg
	cfg.Store = &commitLost{Store: h.st}
	h.eng = worker.NewEngine(cfg)
	jid := h.publish(journey("Mail", "", mailNode, `{"from": "start", "to": "mail"}`))
	p := h.profile("lost", nil, "email", "lost@example.com")
	r := h.enter(jid, p, worker.EntryEvent{})
	h.drain()
	h.drain()
	require.Equal(t, 1, h.inbox.calls, "sent once, by the retry")
	d := h.deliveries(r.ID)
	require.Len(t, d, 1)
	require.Equal(t, store.DeliveryDelivered, d[0].Status)
	require.Equal(t, store.RunCompleted, h.run(r.ID).Status)
}
