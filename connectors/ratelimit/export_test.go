package ratelimit

import "time"

// WithLease sets how long tokens taken ahead stay spendable, and the clock
// that tells (tests).
func (l *Limiter) WithLease(window time.Duration, now func() time.Time) *Limiter {
	l.window, l.now = window, now
	return l
}
