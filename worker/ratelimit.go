package worker

import (
	"context"
	"time"
)

// TokenBucket is a shared token bucket (connectors/ratelimit.Limiter).
type TokenBucket interface {
	Take(ctx context.Context, key string, perSecond float64, burst int) (time.Duration, error)
}

type journeyLimiter struct{ b TokenBucket }

// NewJourneyLimiter enforces journeys' rate_limit settings with a token
// bucket shared by every worker.
func NewJourneyLimiter(b TokenBucket) RateLimiter { return journeyLimiter{b} }

func (l journeyLimiter) Take(ctx context.Context, key string, count int, per time.Duration) (bool, time.Duration, error) {
	if count <= 0 || per <= 0 {
		return true, 0, nil
	}
	wait, err := l.b.Take(ctx, key, float64(count)/per.Seconds(), max(1, count/10))
	if err != nil {
		return false, 0, err
	}
	return wait == 0, wait, nil
}
