package builtin_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A kind's starter config (what a new step begins with in the editor) is
// valid as it is, and a new split is an A/B test at 50/50.
func TestStartersAreValid(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	for _, s := range reg.Specs() {
		if s.Starter == nil {
			continue
		}
		data, err := json.Marshal(s.Starter)
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(data, &raw))
		_, errs := s.Normalize(raw)
		require.Empty(t, errs, s.Kind)
	}
	split, ok := reg.Lookup("split")
	require.True(t, ok)
	ports := split.PortsFor(split.Starter)
	var names []string
	for _, p := range ports {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"a", "b"}, names)
}
