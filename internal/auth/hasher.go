package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Hasher defaults: at most 4 argon2id computations at once in a process
// (4 × 64 MiB = 256 MiB), and a caller waits at most 5 s for a free slot.
const (
	DefaultHashConcurrency = 4
	DefaultHashWait        = 5 * time.Second
)

// ErrBusy means every hashing slot stayed taken for the whole wait: the
// caller should answer "try again shortly" (503 with Retry-After).
var ErrBusy = errors.New("too many password checks are running at once")

// dummyHash is verified against when a login names an unknown user or a
// user with no password yet, so the answer takes as long as for a real
// one. Its parameters are the ones HashPassword uses (auth_test pins them).
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$DtYns21yaH+msuKjWKFgqA$dbo5cpnKeOlo6L6z/B0CdYZ6TirZ1JpQOeIBJQK8ddY"

// Hasher runs argon2id password hashes and verifications with a cap on how
// many run at once. Each one allocates 64 MiB while it runs, so however many
// sign-ins arrive together, hashing takes at most Limit() × 64 MiB. A caller
// that finds every slot taken waits up to the configured wait (or until its
// context ends), then gets ErrBusy.
//
// One Hasher serves a whole process: everything in it that hashes passwords
// shares it (ui.New builds one when it is given none).
type Hasher struct {
	slots chan struct{}
	wait  time.Duration
	runs  atomic.Int64
}

// NewHasher returns a Hasher that runs at most limit computations at once
// (at least 1) and waits at most wait for a slot (≤ 0: refuse at once).
func NewHasher(limit int, wait time.Duration) *Hasher {
	return &Hasher{slots: make(chan struct{}, max(limit, 1)), wait: max(wait, 0)}
}

// Limit is how many computations may run at once.
func (h *Hasher) Limit() int { return cap(h.slots) }

// Runs counts the argon2id computations this Hasher has run (hashes,
// verifications and burns), for metrics and tests.
func (h *Hasher) Runs() int64 { return h.runs.Load() }

// Acquire takes one slot, waiting as configured; release gives it back.
// Hash, Verify and Burn take their own slot: call Acquire only to hold a
// slot for something else that is as heavy (or, in tests, to fill them).
func (h *Hasher) Acquire(ctx context.Context) (release func(), err error) {
	var once sync.Once
	release = func() { once.Do(func() { <-h.slots }) }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	if h.wait <= 0 {
		return nil, ErrBusy
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ErrBusy
	}
}

func (h *Hasher) run(ctx context.Context, fn func()) error {
	release, err := h.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	h.runs.Add(1)
	fn()
	return nil
}

// Hash is HashPassword under the cap.
func (h *Hasher) Hash(ctx context.Context, pw string) (hash string, err error) {
	if rerr := h.run(ctx, func() { hash, err = HashPassword(pw) }); rerr != nil {
		return "", rerr
	}
	return hash, err
}

// Verify is VerifyPassword under the cap: nil, ErrMismatch, ErrBusy, or a
// malformed-hash error.
func (h *Hasher) Verify(ctx context.Context, hash, pw string) (err error) {
	if rerr := h.run(ctx, func() { err = VerifyPassword(hash, pw) }); rerr != nil {
		return rerr
	}
	return err
}

// Burn spends the time (and memory) a real verification would, for logins
// that name no usable account, so they cannot be told apart by timing. It
// returns ErrBusy like Verify, so such logins are refused the same way too.
func (h *Hasher) Burn(ctx context.Context, pw string) error {
	return h.run(ctx, func() { _ = VerifyPassword(dummyHash, pw) })
}
