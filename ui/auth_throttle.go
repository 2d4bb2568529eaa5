package ui

import (
	"fmt"
	"math"
	"time"

	"github.com/gofiber/fiber/v2"
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

// loginLocked reports how long the email or IP must still wait (0 = free).
func (s *Server) loginLocked(c *fiber.Ctx, email string) (time.Duration, error) {
	now := s.cfg.Now()
	since := now.Add(-loginWindow)
	acc, err := s.store.LoginFailuresForEmail(c.UserContext(), email, since)
	if err != nil {
		return 0, err
	}
	ip, err := s.store.LoginFailuresForIP(c.UserContext(), c.IP(), since)
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	if d := lockFor(acc.Count, loginFreeAccount); d > 0 {
		wait = max(wait, acc.Last.Add(d).Sub(now))
	}
	if d := lockFor(ip.Count, loginFreeIP); d > 0 {
		wait = max(wait, ip.Last.Add(d).Sub(now))
	}
	return max(wait, 0), nil
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
