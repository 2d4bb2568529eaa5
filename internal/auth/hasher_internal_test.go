package auth

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// The dummy hash must cost what a real one does: same algorithm and
// parameters as HashPassword. Change it with the parameters.
func TestDummyHashMatchesParameters(t *testing.T) {
	t.Parallel()
	prefix := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, argonMemory, argonTime, argonThreads)
	require.True(t, strings.HasPrefix(dummyHash, prefix), "dummyHash %s lacks %s", dummyHash, prefix)
	require.NoError(t, VerifyPassword(dummyHash, "waymark-timing-equaliser"))
}
