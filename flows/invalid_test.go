package flows_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

// TestInvalidGolden checks each testdata/invalid/NAME.json against the
// problems listed in NAME.golden, one per line (parse problems, or
// validation problems when the document parses). -update rewrites them.
func TestInvalidGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	files, err := filepath.Glob("testdata/invalid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var problems []flows.Problem
			j, err := flows.Parse(data)
			if err != nil {
				var pe *flows.ParseError
				require.True(t, errors.As(err, &pe), "Parse error is %T", err)
				problems = pe.Problems
			} else {
				problems = flows.Validate(b.reg, j, flows.ValidateOptions{})
			}
			require.NotEmpty(t, problems, "an invalid document must have problems")
			var sb strings.Builder
			for _, p := range problems {
				sb.WriteString(p.String())
				sb.WriteByte('\n')
			}
			golden := strings.TrimSuffix(path, ".json") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(sb.String()), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run: go test ./flows -run TestInvalidGolden -update")
			require.Equal(t, string(want), sb.String())
		})
	}
}
