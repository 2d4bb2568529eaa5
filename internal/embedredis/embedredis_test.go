package embedredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/embedredis"
)

func TestKeysExpireInRealTime(t *testing.T) {
	t.Parallel()
	s, err := embedredis.Start()
	require.NoError(t, err)
	defer s.Close()
	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", time.Second).Err())
	require.Equal(t, "v", c.Get(ctx, "k").Val())
	require.Eventually(t, func() bool { return c.Exists(ctx, "k").Val() == 0 }, 5*time.Second, 100*time.Millisecond,
		"a key with a TTL must expire without anyone calling FastForward by hand")
}

// F10 of the 2026-12 security review: any local process could reach the
// embedded Redis. Without the password of this start it is refused.
func TestRequiresTheStartsPassword(t *testing.T) {
	t.Parallel()
	s, err := embedredis.Start()
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()

	anon := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2})
	defer anon.Close()
	err = anon.Ping(ctx).Err()
	require.Error(t, err)
	require.Contains(t, err.Error(), "NOAUTH")
	require.ErrorContains(t, anon.Keys(ctx, "*").Err(), "NOAUTH")
	require.ErrorContains(t, anon.FlushAll(ctx).Err(), "NOAUTH")

	wrong := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "guess"})
	defer wrong.Close()
	require.ErrorContains(t, wrong.Ping(ctx).Err(), "WRONGPASS")

	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	require.Equal(t, s.Password(), opt.Password, "the URL carries the password")
	c := redis.NewClient(opt)
	defer c.Close()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", c.Get(ctx, "k").Val())

	s2, err := embedredis.Start()
	require.NoError(t, err)
	defer s2.Close()
	require.Len(t, s.Password(), 64, "256 random bits, hex")
	require.NotEqual(t, s.Password(), s2.Password(), "each start draws its own password")
}
