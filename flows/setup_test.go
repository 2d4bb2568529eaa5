package flows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
)

// testBundle holds what most tests need.
type testBundle struct {
	reg *nodes.Registry
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	return &testBundle{reg: reg}
}

// validFiles returns the valid journeys in testdata.
func validFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	return files
}

func mustParseFile(t testing.TB, path string) *flows.Journey {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	j, err := flows.Parse(data)
	require.NoError(t, err, path)
	return j
}
