package auth_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/internal/auth"
)

func TestPasswordHashing(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$"), h)
	require.NoError(t, auth.VerifyPassword(h, "correct horse battery"))
	require.ErrorIs(t, auth.VerifyPassword(h, "correct horse batterY"), auth.ErrMismatch)
	h2, err := auth.HashPassword("correct horse battery")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")
	for _, bad := range []string{"", "$bcrypt$x", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=1,t=1,p=1$!!$b"} {
		err := auth.VerifyPassword(bad, "x")
		require.Error(t, err)
		require.NotErrorIs(t, err, auth.ErrMismatch)
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	require.ErrorContains(t, auth.CheckPassword("short"), "at least 12")
	require.ErrorContains(t, auth.CheckPassword(strings.Repeat("x", 1025)), "at most")
	require.NoError(t, auth.CheckPassword("twelve chars"))
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	k, prefix, hash := auth.NewAPIKey()
	require.True(t, strings.HasPrefix(k, "wmk_"))
	require.True(t, strings.HasPrefix(k, prefix))
	require.Len(t, prefix, 10)
	require.Equal(t, auth.HashToken(k), hash)
	k2, _, _ := auth.NewAPIKey()
	require.NotEqual(t, k, k2)
	require.True(t, auth.Equal("a", "a"))
	require.False(t, auth.Equal("a", "b"))
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	s, err := auth.ParseScopes("events:write, journeys:read events:write")
	require.NoError(t, err)
	require.Equal(t, []string{"events:write", "journeys:read"}, s)
	_, err = auth.ParseScopes("events:write,root")
	require.ErrorContains(t, err, `unknown scope "root"`)
	_, err = auth.ParseScopes(" , ")
	require.ErrorContains(t, err, "no scopes")
}
