// Package ratelimit is a token bucket kept in Redis, so every worker
// process shares one rate per connector. The bucket's arithmetic runs in a
// Lua script on Redis's own clock: atomic, and immune to skew between
// worker clocks.
//
// At a high rate a worker takes a few tokens ahead in one round trip (a
// lease: up to 50 ms of the rate, at most a quarter of the burst) and
// spends them in-process; tokens of a lease not spent within those 50 ms
// are dropped, never given back. Every send still spends a token taken
// from the shared bucket, so all workers together never send more than the
// bucket gives out; a token may only be spent up to 50 ms after it was
// taken. At a rate under 40 per second (a lease of one) every send is a
// round trip, as before.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// script refills the bucket for the time elapsed, takes up to ARGV[3]
// tokens if it has at least one, and otherwise says how long until one is
// there. It also counts refusals over the last minute for the admin page.
//
// KEYS[1] bucket hash, KEYS[2] refusal counter; ARGV[1] rate per second,
// ARGV[2] burst, ARGV[3] how many tokens to take at most (0: only look).
// It returns the wait in microseconds, the tokens left and the refusals,
// and how many tokens it took.
var script = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
end
local wait = 0
local got = 0
if take >= 1 then
  if tokens >= 1 then
    got = math.min(take, math.floor(tokens))
    tokens = tokens - got
  else
    wait = math.ceil((1 - tokens) * 1000000 / rate)
    redis.call('INCR', KEYS[2])
    redis.call('PEXPIRE', KEYS[2], 60000)
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
end
local refused = tonumber(redis.call('GET', KEYS[2]) or '0')
return {wait, tostring(tokens), refused, got}
`)

// Limiter takes tokens from per-key buckets in Redis.
type Limiter struct {
	rdb    redis.Scripter
	prefix string
	window time.Duration // how long tokens taken ahead stay spendable
	now    func() time.Time

	mu     sync.Mutex
	leases map[string]*lease
}

// lease is tokens taken ahead from a bucket, spendable until until.
type lease struct {
	tokens int
	until  time.Time
}

// leaseWindow is how long tokens taken ahead stay spendable.
const leaseWindow = 50 * time.Millisecond

// New returns a limiter; keys are prefixed "waymark:ratelimit:".
func New(rdb redis.Scripter) *Limiter {
	return &Limiter{rdb: rdb, prefix: "waymark:ratelimit:", window: leaseWindow, now: time.Now, leases: map[string]*lease{}}
}

// leaseSize is how many tokens a worker takes at once: the window's worth
// of the rate, at most a quarter of the burst, at least one.
func (l *Limiter) leaseSize(perSecond float64, burst int) int {
	return max(1, min(int(perSecond*l.window.Seconds()), burst/4))
}

// Status is a bucket's state.
type Status struct {
	Tokens  float64 // available now
	Refused int64   // sends held back in the last minute
}

// Take takes one token from key's bucket (rate per second, burst tokens),
// from this limiter's lease when it holds one. It returns 0 when the send
// may go now, or how long to wait.
func (l *Limiter) Take(ctx context.Context, key string, perSecond float64, burst int) (time.Duration, error) {
	n := l.leaseSize(perSecond, burst)
	if n > 1 {
		l.mu.Lock()
		if le := l.leases[key]; le != nil && le.tokens > 0 && l.now().Before(le.until) {
			le.tokens--
			l.mu.Unlock()
			return 0, nil
		}
		l.mu.Unlock()
	}
	taken := l.now()
	wait, _, got, err := l.run(ctx, key, perSecond, burst, n)
	if err == nil && got > 1 {
		l.mu.Lock()
		l.leases[key] = &lease{tokens: got - 1, until: taken.Add(l.window)}
		l.mu.Unlock()
	}
	return wait, err
}

// Peek reports a bucket's state without taking a token.
func (l *Limiter) Peek(ctx context.Context, key string, perSecond float64, burst int) (Status, error) {
	_, st, _, err := l.run(ctx, key, perSecond, burst, 0)
	return st, err
}

// PeekStatus is Peek in the shape connectors.LimiterStatus wants.
func (l *Limiter) PeekStatus(ctx context.Context, key string, perSecond float64, burst int) (float64, int64, error) {
	st, err := l.Peek(ctx, key, perSecond, burst)
	return st.Tokens, st.Refused, err
}

func (l *Limiter) run(ctx context.Context, key string, perSecond float64, burst int, take int) (time.Duration, Status, int, error) {
	if perSecond <= 0 || burst <= 0 {
		return 0, Status{}, 0, fmt.Errorf("rate limit for %s: rate and burst must be positive", key)
	}
	keys := []string{l.prefix + "{" + key + "}", l.prefix + "{" + key + "}:refused"}
	res, err := script.Run(ctx, l.rdb, keys, strconv.FormatFloat(perSecond, 'f', -1, 64), burst, take).Slice()
	if err != nil {
		return 0, Status{}, 0, fmt.Errorf("rate limiting %s: %w", key, err)
	}
	if len(res) != 4 {
		return 0, Status{}, 0, fmt.Errorf("rate limiting %s: unexpected reply %v", key, res)
	}
	waitUS, _ := res[0].(int64)
	ts, _ := res[1].(string)
	tokens, _ := strconv.ParseFloat(ts, 64)
	refused, _ := res[2].(int64)
	got, _ := res[3].(int64)
	return time.Duration(waitUS) * time.Microsecond, Status{Tokens: tokens, Refused: refused}, int(got), nil
}
