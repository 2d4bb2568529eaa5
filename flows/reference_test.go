package flows_test

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

var update = flag.Bool("update", false, "rewrite generated files (docs/journey-format.md, testdata/invalid/*.golden)")

const referencePath = "../docs/journey-format.md"

// TestReferenceDoc fails when docs/journey-format.md is not what the
// registry generates. Run `go test ./flows -run TestReferenceDoc -update`
// to rewrite it.
func TestReferenceDoc(t *testing.T) {
	b := setup(t)
	got := flows.ReferenceMarkdown(b.reg)
	if *update {
		require.NoError(t, os.WriteFile(referencePath, got, 0o644))
		return
	}
	want, err := os.ReadFile(referencePath)
	require.NoError(t, err, "run: go test ./flows -run TestReferenceDoc -update")
	require.Equal(t, string(want), string(got), "docs/journey-format.md is stale; run: go test ./flows -run TestReferenceDoc -update")
}
