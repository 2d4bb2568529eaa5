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
