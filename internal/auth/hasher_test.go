package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
)

func TestHasherRunsUnderTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := auth.NewHasher(2, 0)
	require.Equal(t, 2, h.Limit())

	hash, err := h.Hash(ctx, "correct horse battery")
	require.NoError(t, err)
	require.NoError(t, h.Verify(ctx, hash, "correct horse battery"))
	require.ErrorIs(t, h.Verify(ctx, hash, "wrong horse battery"), auth.ErrMismatch)
	require.NoError(t, h.Burn(ctx, "anything"))
	require.EqualValues(t, 4, h.Runs())

	// Both slots held: every kind of computation is refused at once, and
	// nothing runs.
	r1, err := h.Acquire(ctx)
	require.NoError(t, err)
	r2, err := h.Acquire(ctx)
	require.NoError(t, err)
	_, err = h.Acquire(ctx)
	require.ErrorIs(t, err, auth.ErrBusy)
	_, err = h.Hash(ctx, "correct horse battery")
	require.ErrorIs(t, err, auth.ErrBusy)
	require.ErrorIs(t, h.Verify(ctx, hash, "correct horse battery"), auth.ErrBusy)
	require.ErrorIs(t, h.Burn(ctx, "x"), auth.ErrBusy)
	require.EqualValues(t, 4, h.Runs())

	// A release frees exactly one slot, even if called twice.
	r1()
	r1()
	r3, err := h.Acquire(ctx)
	require.NoError(t, err)
	_, err = h.Acquire(ctx)
	require.ErrorIs(t, err, auth.ErrBusy)
	r2()
	r3()
	require.NoError(t, h.Verify(ctx, hash, "correct horse battery"))
}

func TestHasherWaitsForASlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := auth.NewHasher(1, time.Hour)
	release, err := h.Acquire(ctx)
	require.NoError(t, err)

	got := make(chan error, 1)
	go func() { got <- h.Burn(ctx, "x") }()
	release() // the waiting Burn takes the slot
	require.NoError(t, <-got)
	require.EqualValues(t, 1, h.Runs())

	// A waiter whose request ends gives up with ErrBusy.
	release, err = h.Acquire(ctx)
	require.NoError(t, err)
	defer release()
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- h.Burn(cctx, "x") }()
	cancel()
	require.ErrorIs(t, <-got, auth.ErrBusy)
	require.EqualValues(t, 1, h.Runs())
}
