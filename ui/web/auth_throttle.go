package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

// Sign-in throttling. Failed attempts are stored in the database, so the
// limits hold across every web process and restarts. Past a free allowance
// within the window, each further failure doubles the wait before the next
// attempt is even checked, up to loginMaxLock:
//
//	per account (email): 5 free failures, then 1m, 2m, 4m … 1h
//	per IP address:      20 free failures, then 1m, 2m, 4m … 1h
//
// A successful sign-in clears the account's count (not the IP's).
//
// Each attempt is reserved (recorded as a failure) atomically with the
// check, before the password is hashed, so concurrent attempts cannot all
// pass the check first: of any burst, only the allowance is ever checked.
// The reservation becomes a success when the password is right, and is
// dropped when the password could not be checked (hashing busy).
const (
	loginWindow      = time.Hour
	loginFreeAccount = 5
	loginFreeIP      = 20
	loginBaseLock    = time.Minute
	loginMaxLock     = time.Hour
)

// lockFor is how long after the last failure the next attempt must wait.
func lockFor(failures, free int64) time.Duration {
	if failures < free {
		return 0
	}
	exp := failures - free
	if exp > 10 {
		exp = 10
	}
	d := time.Duration(float64(loginBaseLock) * math.Pow(2, float64(exp)))
	return min(d, loginMaxLock)
}

// loginStore is the storage sign-in throttling needs.
type loginStore interface {
	ReserveLoginAttempt(ctx context.Context, email, ip string, since time.Time, check store.LoginCheck) (store.LoginReservation, error)
	MarkLoginAttemptSucceeded(ctx context.Context, id int64) error
	ReleaseLoginAttempt(ctx context.Context, id int64) error
}

// reserveLogin records an attempt for email from the request's IP before
// its password is checked, or reports how long the email or IP must still
// wait (reservation ID 0).
func (h *Handler) reserveLogin(c *fiber.Ctx, email string) (store.LoginReservation, error) {
	now := h.cfg.Now()
	return h.store.ReserveLoginAttempt(c.UserContext(), email, c.IP(), now.Add(-loginWindow), func(acc, ip store.LoginFailures) time.Duration {
		var wait time.Duration
		if d := lockFor(acc.Count, loginFreeAccount); d > 0 {
			wait = max(wait, acc.Last.Add(d).Sub(now))
		}
		if d := lockFor(ip.Count, loginFreeIP); d > 0 {
			wait = max(wait, ip.Last.Add(d).Sub(now))
		}
		return max(wait, 0)
	})
}

// Password hashing is capped process-wide (auth.Hasher): when every slot
// stays taken for the Hasher's wait, the request is refused with 503 and
// this Retry-After, and the message below.
const (
	hashBusyRetry   = 2 * time.Second
	hashBusyMessage = "The server is busy checking other passwords. Try again in a few seconds."
)

// hashBusy sets Retry-After when err is auth.ErrBusy and reports whether it was.
func hashBusy(c *fiber.Ctx, err error) bool {
	if !errors.Is(err, auth.ErrBusy) {
		return false
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(hashBusyRetry.Seconds())))
	return true
}

func waitText(d time.Duration) string {
	if d < time.Minute {
		return "a minute"
	}
	m := int(math.Ceil(d.Minutes()))
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
