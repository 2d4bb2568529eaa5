package nodes_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/nodes"
)

// TestFieldTypeTable: every field type is declared once, completely, and
// nothing else is a type.
func TestFieldTypeTable(t *testing.T) {
	t.Parallel()
	all := []nodes.FieldType{nodes.String, nodes.Text, nodes.Expression, nodes.Condition, nodes.Template, nodes.HTML,
		nodes.JSON, nodes.Duration, nodes.TimeOfDay, nodes.Weekdays, nodes.Timezone, nodes.Cron, nodes.Connector,
		nodes.Integer, nodes.Number, nodes.Boolean, nodes.Enum, nodes.List}
	table := nodes.FieldTypes()
	require.Len(t, table, len(all))
	seen := map[nodes.FieldType]bool{}
	for _, info := range table {
		require.False(t, seen[info.Type], "%s declared twice", info.Type)
		seen[info.Type] = true
		require.NotEmpty(t, info.JSON, info.Type)
		require.Contains(t, []string{"string", "integer", "number", "boolean", "array"}, info.SchemaType, info.Type)
		require.NotEmpty(t, info.Widget.Input, info.Type)
		require.NotEmpty(t, info.Form, info.Type)
		require.Equal(t, info.Widget.Input == "select", info.Widget.Options != "", info.Type)
		got, ok := info.Type.Info()
		require.True(t, ok)
		require.Equal(t, info.Type, got.Type)
		if info.SchemaType == "string" && info.Type != nodes.Duration && info.Type != nodes.TimeOfDay {
			require.Positive(t, info.MaxLength, "%s: text has a length limit", info.Type)
		}
	}
	for _, ft := range all {
		require.True(t, ft.Valid(), ft)
	}
	require.False(t, nodes.FieldType("blob").Valid())
	require.True(t, nodes.Condition.IsExpression())
	require.True(t, nodes.JSON.IsTemplate())
	require.False(t, nodes.String.IsTemplate() || nodes.String.IsExpression())
}

// TestFieldTypeDefaultLengths: the table's limits are the ones values are
// held to.
func TestFieldTypeDefaultLengths(t *testing.T) {
	t.Parallel()
	for _, info := range nodes.FieldTypes() {
		if info.MaxLength == 0 || info.Type == nodes.Enum {
			continue
		}
		spec := nodes.Spec{Kind: "k", Title: "K", Category: nodes.Flow, Ports: []nodes.Port{{Name: "out"}},
			Fields: []nodes.Field{{Name: "v", Title: "V", Type: info.Type}}}
		if info.Type == nodes.Connector {
			spec.Fields[0].Channel = "email"
		}
		long := make([]byte, info.MaxLength+1)
		for i := range long {
			long[i] = 'a'
		}
		_, errs := spec.Normalize(map[string]any{"v": string(long)})
		require.NotEmpty(t, errs, info.Type)
		require.Contains(t, errs[0].Message, "too long", info.Type)
	}
}
