package builtin_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/nodes"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/connectors.md")

const (
	beginMarker = "<!-- BEGIN GENERATED: connector types (go test ./connectors/builtin -run TestConnectorsDoc -update) -->"
	endMarker   = "<!-- END GENERATED -->"
)

// TestConnectorsDoc keeps the reference part of docs/connectors.md equal to
// what the registry declares: a new field or type without docs fails here.
func TestConnectorsDoc(t *testing.T) {
	reg, err := builtin.NewRegistry()
	require.NoError(t, err)
	path := filepath.Join("..", "..", "docs", "connectors.md")
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(doc)
	start, end := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	require.True(t, start >= 0 && end > start, "docs/connectors.md lacks the generated-section markers")
	want := text[:start] + beginMarker + "\n" + reference(reg) + endMarker + text[end+len(endMarker):]
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		return
	}
	require.Equal(t, want, text, "docs/connectors.md is stale; run: go test ./connectors/builtin -run TestConnectorsDoc -update")
}

func reference(reg *connectors.Registry) string {
	var b strings.Builder
	for _, t := range reg.Types() {
		fmt.Fprintf(&b, "\n### `%s` — %s\n\n%s\n\n", t.Name, t.Title, t.Help)
		kinds := make([]string, len(t.Kinds))
		for i, k := range t.Kinds {
			kinds[i] = "`" + k + "`"
		}
		fmt.Fprintf(&b, "Serves %s.", strings.Join(kinds, ", "))
		if t.Builtin {
			b.WriteString(" Built in: every workspace has it, named `sandbox`; it has no settings and no rate limit.\n")
			continue
		}
		fmt.Fprintf(&b, " Default rate limit: %g per second (burst %d).\n\n", t.RateLimit.PerSecond, t.RateLimit.Burst)
		b.WriteString("| field | type | required | secret | default | description |\n|---|---|---|---|---|---|\n")
		for _, f := range t.Fields {
			typ := string(f.Type)
			if f.Type == nodes.Enum {
				typ = "one of " + strings.Join(f.Enum, ", ")
			}
			if f.Min != nil || f.Max != nil {
				typ += fmt.Sprintf(" (%s–%s)", bound(f.Min), bound(f.Max))
			}
			def := ""
			if f.Default != nil {
				def = fmt.Sprintf("`%v`", f.Default)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, typ, yes(f.Required), yes(f.Secret), def, cell(f.Help))
		}
		for _, d := range t.Destinations {
			fmt.Fprintf(&b, "\nChanging `%s` needs `%s` given again.\n", d.Field, strings.Join(d.Secrets, "`, `"))
		}
		if t.Example != nil {
			var ex bytes.Buffer
			enc := json.NewEncoder(&ex)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			_ = enc.Encode(struct {
				Type   string         `json:"type"`
				Name   string         `json:"name"`
				Config map[string]any `json:"config"`
			}{t.Name, "my-" + strings.ReplaceAll(t.Name, "_", "-"), t.Example})
			fmt.Fprintf(&b, "\nCreate one (`POST /api/v1/connectors`):\n\n```json\n%s```\n", ex.String())
		}
	}
	b.WriteString("\n")
	return b.String()
}

// cell escapes text for a markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
}

func bound(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%g", *f)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
