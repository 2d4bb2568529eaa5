package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/ratelimit"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/testenv"
)

// backends runs fn against the embedded Redis (miniredis, embedded mode)
// and the real one (skipped loudly without WAYMARK_TEST_REDIS_URL).
func backends(t *testing.T, fn func(t *testing.T, rdb *redis.Client)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		emb, err := embedredis.Start()
		require.NoError(t, err)
		t.Cleanup(emb.Close)
		opt, err := redis.ParseURL(emb.URL())
		require.NoError(t, err)
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, rdb)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		opt, err := redis.ParseURL(testenv.RedisURL(t, testenv.RedisDBConnectors))
		require.NoError(t, err)
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, rdb)
	})
}

func TestTokenBucket(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb *redis.Client) {
		{
			ctx := context.Background()
			l := ratelimit.New(rdb)
			key := "test:" + auth.Token(8)
			// A burst of 3 goes straight through; the 4th waits about 1/rate.
			for i := 0; i < 3; i++ {
				wait, err := l.Take(ctx, key, 2, 3)
				require.NoError(t, err)
				require.Zero(t, wait, "token %d", i)
			}
			wait, err := l.Take(ctx, key, 2, 3)
			require.NoError(t, err)
			require.Greater(t, wait, 100*time.Millisecond)
			require.LessOrEqual(t, wait, 500*time.Millisecond)
			st, err := l.Peek(ctx, key, 2, 3)
			require.NoError(t, err)
			require.Less(t, st.Tokens, 1.0)
			require.EqualValues(t, 1, st.Refused)

			// Buckets are independent.
			wait, err = l.Take(ctx, key+":other", 2, 3)
			require.NoError(t, err)
			require.Zero(t, wait)

			_, err = l.Take(ctx, key, 0, 1)
			require.Error(t, err)
		}
	})
}

// TestSharedAcrossClients: several "workers" (separate clients) share one
// bucket, so together they get the burst and no more.
func TestSharedAcrossClients(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb *redis.Client) {
		{
			opt := rdb.Options()
			key := "shared:" + auth.Token(8)
			var granted atomic.Int32
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := redis.NewClient(opt)
					defer c.Close()
					l := ratelimit.New(c)
					for i := 0; i < 10; i++ {
						wait, err := l.Take(context.Background(), key, 0.01, 5)
						if err == nil && wait == 0 {
							granted.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			require.EqualValues(t, 5, granted.Load())
		}
	})
}

// A limiter takes tokens ahead (a lease) in one round trip and spends them
// in-process: all limiters together never spend more than the bucket
// gives, and tokens of a lease not spent in time are dropped, never spent
// later.
func TestLeasesSpendOnlyTheBucketsTokens(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := context.Background()
		var mu sync.Mutex
		clock := time.Now()
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		// 0.01 tokens a second: nothing refills during the test. A window
		// of an hour makes a lease of min(36, 100/4) = 25 tokens.
		const rate, burst = 0.01, 100
		key := "lease:" + auth.Token(8)
		a := ratelimit.New(rdb).WithLease(time.Hour, now)
		b := ratelimit.New(rdb).WithLease(time.Hour, now)
		wait, err := a.Take(ctx, key, rate, burst)
		require.NoError(t, err)
		require.Zero(t, wait)
		st, err := a.Peek(ctx, key, rate, burst)
		require.NoError(t, err)
		require.InDelta(t, 75, st.Tokens, 0.5, "one round trip took a lease of 25 tokens")
		granted := 1
		for i := 0; i < 200; i++ {
			l := a
			if i%2 == 1 {
				l = b
			}
			wait, err := l.Take(ctx, key, rate, burst)
			require.NoError(t, err)
			if wait == 0 {
				granted++
			}
		}
		require.Equal(t, burst, granted, "two limiters together spent exactly the bucket's tokens")

		key = "lease-expiry:" + auth.Token(8)
		_, err = a.Take(ctx, key, rate, burst) // a lease of 25, one spent
		require.NoError(t, err)
		mu.Lock()
		clock = clock.Add(2 * time.Hour)
		mu.Unlock()
		_, err = a.Take(ctx, key, rate, burst) // the 24 left are dropped: a new lease
		require.NoError(t, err)
		st, err = a.Peek(ctx, key, rate, burst)
		require.NoError(t, err)
		require.InDelta(t, 50, st.Tokens, 0.5, "an expired lease is not spent: the next send takes from the bucket")
	})
}
