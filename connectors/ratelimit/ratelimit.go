// Package ratelimit is a token bucket kept in Redis, so every worker
// process shares one rate per connector. The bucket's arithmetic runs in a
// Lua script on Redis's own clock: one round trip per send, atomic, and
// immune to skew between worker clocks.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// script refills the bucket for the time elapsed, takes one token if it
// can, and otherwise says how long until one is there. It also counts
// refusals over the last minute for the admin page.
//
// KEYS[1] bucket hash, KEYS[2] refusal counter; ARGV[1] rate per second,
// ARGV[2] burst, ARGV[3] 1 to take a token, 0 to only look.
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
if take == 1 then
  if tokens >= 1 then
    tokens = tokens - 1
  else
    wait = math.ceil((1 - tokens) * 1000000 / rate)
    redis.call('INCR', KEYS[2])
    redis.call('PEXPIRE', KEYS[2], 60000)
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
end
local refused = tonumber(redis.call('GET', KEYS[2]) or '0')
return {wait, tostring(tokens), refused}
`)

// Limiter takes tokens from per-key buckets in Redis.
type Limiter struct {
	rdb    redis.Scripter
	prefix string
}

// New returns a limiter; keys are prefixed "waymark:ratelimit:".
func New(rdb redis.Scripter) *Limiter {
	return &Limiter{rdb: rdb, prefix: "waymark:ratelimit:"}
}

// Status is a bucket's state.
type Status struct {
	Tokens  float64 // available now
	Refused int64   // sends held back in the last minute
}

// Take takes one token from key's bucket (rate per second, burst tokens).
// It returns 0 when the send may go now, or how long to wait.
func (l *Limiter) Take(ctx context.Context, key string, perSecond float64, burst int) (time.Duration, error) {
	wait, _, err := l.run(ctx, key, perSecond, burst, true)
	return wait, err
}

// Peek reports a bucket's state without taking a token.
func (l *Limiter) Peek(ctx context.Context, key string, perSecond float64, burst int) (Status, error) {
	_, st, err := l.run(ctx, key, perSecond, burst, false)
	return st, err
}

// PeekStatus is Peek in the shape connectors.LimiterStatus wants.
func (l *Limiter) PeekStatus(ctx context.Context, key string, perSecond float64, burst int) (float64, int64, error) {
	st, err := l.Peek(ctx, key, perSecond, burst)
	return st.Tokens, st.Refused, err
}

func (l *Limiter) run(ctx context.Context, key string, perSecond float64, burst int, take bool) (time.Duration, Status, error) {
	if perSecond <= 0 || burst <= 0 {
		return 0, Status{}, fmt.Errorf("rate limit for %s: rate and burst must be positive", key)
	}
	t := 0
	if take {
		t = 1
	}
	keys := []string{l.prefix + "{" + key + "}", l.prefix + "{" + key + "}:refused"}
	res, err := script.Run(ctx, l.rdb, keys, strconv.FormatFloat(perSecond, 'f', -1, 64), burst, t).Slice()
	if err != nil {
		return 0, Status{}, fmt.Errorf("rate limiting %s: %w", key, err)
	}
	if len(res) != 3 {
		return 0, Status{}, fmt.Errorf("rate limiting %s: unexpected reply %v", key, res)
	}
	waitUS, _ := res[0].(int64)
	ts, _ := res[1].(string)
	tokens, _ := strconv.ParseFloat(ts, 64)
	refused, _ := res[2].(int64)
	return time.Duration(waitUS) * time.Microsecond, Status{Tokens: tokens, Refused: refused}, nil
}
