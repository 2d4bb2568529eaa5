package flows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

func TestTestdataValid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range validFiles(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			j := mustParseFile(t, path)
			require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))
			c, problems := flows.Compile(b.reg, j, flows.ValidateOptions{})
			require.Empty(t, problems)
			require.NotEmpty(t, c.Triggers)
		})
	}
}
