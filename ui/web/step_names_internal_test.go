package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
)

// TestFieldLabel: problems name fields by their spec's labels, list items
// by number, not by JSON path.
func TestFieldLabel(t *testing.T) {
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	split, ok := reg.Lookup("split")
	require.True(t, ok)
	sw, ok := reg.Lookup("switch")
	require.True(t, ok)
	for _, c := range []struct {
		spec       *nodes.Spec
		path, want string
	}{
		{&split, "variants[0].name", "Variant 1 › Port name"},
		{&split, "variants[11].weight", "Variant 12 › Weight %"},
		{&split, "holdout", "Holdout %"},
		{&sw, "cases[1].expr", "Case 2 › " + sw.Fields[0].Items[1].Title},
		{&split, "ports.a", "Exit “a”"},
		{&split, "title", "Title"},
		{nil, "settings.entry_limit.per_profile", "Settings › Entry limit › Per profile"},
		{nil, "[2]", "3rd"},
		{&split, "unknown_thing[0].x_y", "Unknown thing 1 › X y"},
		{&split, "", ""},
	} {
		require.Equal(t, c.want, fieldLabel(c.spec, c.path), c.path)
	}
}
