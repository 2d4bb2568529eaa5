package expression_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows/expression"
)

// TestDocsListEveryFunction keeps docs/expressions.md in step with the
// helpers and the builtin allow-list.
func TestDocsListEveryFunction(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docs/expressions.md")
	require.NoError(t, err)
	doc := string(data)
	for _, h := range expression.Helpers() {
		require.Contains(t, doc, "`"+h.Name+"(", "helper %s is not documented", h.Name)
	}
	for _, h := range expression.HistoryFunctions() {
		require.Contains(t, doc, "`"+h.Name+"(", "history function %s is not documented", h.Name)
	}
	for _, v := range []string{"`first_seen`", "`last_seen`", "## Behaviour over time"} {
		require.Contains(t, doc, v)
	}
	for _, b := range expression.AllowedBuiltins() {
		require.Contains(t, doc, "`"+b+"`", "builtin %s is not documented", b)
	}
}
