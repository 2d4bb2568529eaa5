package uitest

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

const Password = "correct horse battery"

var LinkPattern = regexp.MustCompile(`data-testid="link">https?://[^/]+(/[a-z]+/[A-Za-z0-9_-]+)<`)

func OneTimeLink(t *testing.T, page string) string {
	t.Helper()
	m := LinkPattern.FindStringSubmatch(page)
	require.NotNil(t, m, "page shows no one-time link")
	return m[1]
}
