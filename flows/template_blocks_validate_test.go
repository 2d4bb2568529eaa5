package flows_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

// Template blocks (docs/templates.md) validate with the journey: a block
// error names the node, the field, and the line and column in the field.
func TestValidateTemplateBlocks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := func(body string) []byte {
		q, err := json.Marshal(body)
		require.NoError(t, err)
		return []byte(`{"format": 1, "name": "Blocks", "settings": {"reentry": "always"}, "nodes": [
			{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
			{"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": ` + string(q) + `}}],
			"edges": [{"from": "start", "to": "mail"}]}`)
	}
	j, err := flows.Parse(doc("<p>{% if profile.plan == \"pro\" %}Pro{% else %}Free{% end %}</p>\n" +
		"<ul>{% for item in event.properties.items %}<li>{{ loop.index }} {{ item.name }} ({{ count(\"purchase\", within(\"30d\")) }})</li>{% end %}</ul>"))
	require.NoError(t, err)
	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))

	for _, tc := range []struct{ body, msg string }{
		{"<p>Hi</p>\n{% end %}", "line 2, column 1: {% end %} without a block"},
		{"<p>{% if profile.x %}", "line 1, column 4: {% if %} is not closed by {% end %}"},
		{"{% for item in profile.tags %}{{ itme.name }}{% end %}", "line 1, column 34: unknown name itme"},
	} {
		j, err := flows.Parse(doc(tc.body))
		require.NoError(t, err)
		problems := flows.Validate(b.reg, j, flows.ValidateOptions{})
		require.Len(t, problems, 1, "%v", problems)
		require.Equal(t, "mail", problems[0].NodeID)
		require.Equal(t, "body", problems[0].Field)
		require.Contains(t, problems[0].Message, tc.msg)
	}
}
