package flows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
)

// Journeys may use the history functions (docs/expressions.md,
// "Behaviour over time") in conditions, filters and templates; an
// unknown event name is fine, a malformed window names the node and
// the field.
func TestValidateHistoryFunctions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := func(cond, subject, match string) []byte {
		return []byte(`{"format": 1, "name": "History", "settings": {"reentry": "always"}, "nodes": [
			{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up", "filter": "count(\"signed_up\", within(\"1d\")) <= 1"}},
			{"id": "check", "kind": "condition", "config": {"expr": ` + cond + `}},
			{"id": "mail", "kind": "send_email", "config": {"connector": "sandbox", "subject": ` + subject + `, "body": "<p>x</p>"}},
			{"id": "wait", "kind": "wait_event", "config": {"event": "purchase", "timeout": "3d", "match": ` + match + `}},
			{"id": "done", "kind": "exit", "config": {}}],
			"edges": [{"from": "start", "to": "check"}, {"from": "check", "port": "yes", "to": "mail"}, {"from": "check", "port": "no", "to": "done"},
			  {"from": "mail", "to": "wait"}, {"from": "wait", "port": "matched", "to": "done"}, {"from": "wait", "port": "timeout", "to": "done"}]}`)
	}
	j, err := flows.Parse(doc(`"count(\"never_sent_event\", within(\"30d\")) >= 2 && in_segment(\"vip\") && days_since(first_seen) > 7"`,
		`"You spent {{ sum(\"purchase\", \"total\", within(\"90d\")) }}; last {{ last(\"purchase\")?.properties?.total ?? 0 }}"`,
		`"count(\"purchase\", within(\"2w\")) == 0 || last_seen != nil"`))
	require.NoError(t, err)
	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))

	for _, tc := range []struct {
		name, cond, subject, match string
		node, field, msg           string
	}{
		{"condition", `"count(\"purchase\", within(\"30x\")) >= 2"`, `"hi"`, `"true"`, "check", "expr", `"30x" is not a window`},
		{"template", `"true"`, `"{{ sum(\"purchase\", \"total\", within(\"500d\")) }}"`, `"true"`, "mail", "subject", `longer than 400 days`},
		{"wait_event match", `"true"`, `"hi"`, `"count(event.name) > 0"`, "wait", "match", `the event name must be a string literal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := flows.Parse(doc(tc.cond, tc.subject, tc.match))
			require.NoError(t, err)
			problems := flows.Validate(b.reg, j, flows.ValidateOptions{})
			require.Len(t, problems, 1, "%v", problems)
			require.Equal(t, tc.node, problems[0].NodeID)
			require.Equal(t, tc.field, problems[0].Field)
			require.Contains(t, problems[0].Message, tc.msg)
			require.Contains(t, problems[0].Message, "line 1, column ")
		})
	}
}
