package flows_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
)

// connectors is a ConnectorServes backed by a name → node kinds table.
func connectors(table map[string][]string) func(name, kind string) (bool, bool) {
	return func(name, kind string) (bool, bool) {
		kinds, ok := table[name]
		if !ok {
			return false, false
		}
		for _, k := range kinds {
			if k == kind {
				return true, true
			}
		}
		return true, false
	}
}

func TestValidateConnectors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := &flows.Journey{Format: 1, Name: "c", Nodes: []flows.Node{
		{ID: "start", Kind: "trigger_event", Config: map[string]any{"event": "x"}},
		{ID: "mail", Kind: "send_email", Config: map[string]any{"connector": "smtp_main", "subject": "s", "body": "b"}},
		{ID: "sms", Kind: "send_sms", Config: map[string]any{"connector": "smtp_main", "body": "b"}},
		{ID: "ads", Kind: "audience_add", Config: map[string]any{"connector": "meta"}},
		{ID: "test", Kind: "send_sms", Config: map[string]any{"connector": "sandbox", "body": "b"}},
	}, Edges: []flows.Edge{{From: "start", To: "mail"}, {From: "mail", To: "sms"}, {From: "sms", To: "ads"}, {From: "ads", To: "test"}}}

	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}), "nil ConnectorServes: not checked")
	got := flows.Validate(b.reg, j, flows.ValidateOptions{ConnectorServes: connectors(map[string][]string{"smtp_main": {"send_email"}})})
	require.Equal(t, []flows.Problem{
		{NodeID: "sms", Field: "connector", Message: `connector "smtp_main" cannot be used by send_sms`},
		{NodeID: "ads", Field: "connector", Message: `unknown connector "meta"`},
	}, got)
}

func TestValidateProblemsAreJSON(t *testing.T) {
	t.Parallel()
	p := flows.Problem{NodeID: "n", Field: "expr", Message: "m"}
	require.Equal(t, `node "n": expr: m`, p.String())
	require.Equal(t, "settings.timezone: m", flows.Problem{Field: "settings.timezone", Message: "m"}.String())
}

func TestValidateNilInputs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NotEmpty(t, flows.Validate(b.reg, nil, flows.ValidateOptions{}))
	require.NotEmpty(t, flows.Validate(nil, &flows.Journey{}, flows.ValidateOptions{}))
}

// chain builds a valid journey: a trigger followed by n-1 nodes cycling
// through common kinds.
func chain(n int) *flows.Journey {
	j := &flows.Journey{Format: 1, Name: fmt.Sprintf("Generated %d", n)}
	j.Nodes = append(j.Nodes, flows.Node{ID: "n0", Kind: "trigger_event", Config: map[string]any{"event": "signup", "filter": "event.properties.plan == \"pro\""}})
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("n%d", i)
		var node flows.Node
		switch i % 5 {
		case 0:
			node = flows.Node{Kind: "condition", Config: map[string]any{"expr": fmt.Sprintf("profile.score >= %d && profile.country in [\"FR\", \"DE\"]", i)}}
		case 1:
			node = flows.Node{Kind: "send_email", Config: map[string]any{"connector": "sandbox",
				"subject": fmt.Sprintf("Step %d for {{ profile.first_name ?? \"you\" }}", i), "body": "<p>Hello {{ profile.first_name }}</p>"}}
		case 2:
			node = flows.Node{Kind: "delay", Config: map[string]any{"duration": "1d"}}
		case 3:
			node = flows.Node{Kind: "update_profile", Config: map[string]any{"assignments": []any{
				map[string]any{"attribute": "score", "expr": fmt.Sprintf("(profile.score ?? 0) + %d", i)}}}}
		case 4:
			node = flows.Node{Kind: "split", Config: map[string]any{"variants": []any{
				map[string]any{"name": "a", "weight": 50}, map[string]any{"name": "b", "weight": 50}}}}
		}
		node.ID = id
		node.Title = fmt.Sprintf("Step %d", i)
		node.Position = flows.Position{X: float64(i * 200), Y: 0}
		j.Nodes = append(j.Nodes, node)
		prev := j.Nodes[i-1]
		port := ""
		switch prev.Kind {
		case "condition":
			port = "yes"
		case "split":
			port = "a"
		}
		j.Edges = append(j.Edges, flows.Edge{From: prev.ID, Port: port, To: id})
	}
	return j
}

func TestValidateGeneratedJourney(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := chain(1000)
	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))
}

func TestValidateOversizeGraphIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := chain(20000)
	start := time.Now()
	problems := flows.Validate(b.reg, j, flows.ValidateOptions{})
	require.Equal(t, []flows.Problem{
		{Field: "nodes", Message: "too many nodes (20000, at most 2000)"},
		{Field: "edges", Message: "too many edges (19999, at most 5000)"},
	}, problems)
	t.Logf("validated a 20,000-node journey in %v", time.Since(start)) // informational only

	// The same graph as a document is refused by Parse or Validate, never accepted.
	data, err := flows.Marshal(j)
	require.NoError(t, err)
	if _, err := flows.Parse(data); err == nil {
		t.Fatalf("a %d-byte document parsed", len(data))
	}
}

func TestValidateCapsProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := &flows.Journey{Format: 1, Name: "many"}
	for i := range 1500 {
		j.Nodes = append(j.Nodes, flows.Node{ID: fmt.Sprintf("n%d", i), Kind: "nope"})
	}
	problems := flows.Validate(b.reg, j, flows.ValidateOptions{})
	require.Len(t, problems, flows.MaxProblems+1)
	require.Contains(t, problems[flows.MaxProblems].Message, "too many problems")
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := chain(4)
	j.Nodes[1].Title = strings.Repeat("é", flows.MaxTitleLength) // characters, not bytes
	require.Empty(t, flows.Validate(b.reg, j, flows.ValidateOptions{}))
	j.Nodes[1].Title += "x"
	j.Nodes[2].Config["duration"] = "0s"
	j.Nodes[0].Config["filter"] = "profile.x == \"" + strings.Repeat("a", 5000) + "\""
	require.Equal(t, []flows.Problem{
		{NodeID: "n0", Field: "filter", Message: "too long (5015 bytes, at most 4096)"},
		{NodeID: "n1", Field: "title", Message: "too long (257 characters, at most 256)"},
		{NodeID: "n2", Field: "duration", Message: "must be longer than 0s"},
	}, flows.Validate(b.reg, j, flows.ValidateOptions{}))
}

func TestCompile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := mustParseFile(t, "testdata/reengagement.json")
	c, problems := flows.Compile(b.reg, j, flows.ValidateOptions{})
	require.Empty(t, problems)
	require.Len(t, c.Triggers, 1)
	require.Equal(t, "lapsed", c.Triggers[0].ID)
	require.Equal(t, 200, c.Settings.StepBudget)
	require.Equal(t, time.UTC, c.Settings.Location)
	require.Equal(t, &flows.CompiledRateLimit{Count: 600, Per: time.Minute}, c.Settings.RateLimit)
	require.Equal(t, 30*nodes.Day, c.Settings.Goal.Window)

	split := c.Nodes["ab"]
	require.Equal(t, int64(10), split.Config.Int("holdout"))
	require.Equal(t, "random", split.Config.String("strategy"))
	var ports []string
	for _, p := range split.Ports {
		ports = append(ports, p.Name)
	}
	require.Equal(t, []string{"discount", "content", "holdout"}, ports)
	next, end, err := c.Follow(split, "discount")
	require.NoError(t, err)
	require.Equal(t, "discount_mail", next.ID)
	require.Equal(t, nodes.Unconnected(""), end)
	next, end, err = c.Follow(split, "holdout")
	require.NoError(t, err)
	require.Nil(t, next)
	require.Equal(t, nodes.Complete, end)
	_, _, err = c.Follow(split, "nope")
	require.Error(t, err)

	mail := c.Nodes["discount_mail"]
	_, end, err = c.Follow(mail, "failed")
	require.NoError(t, err)
	require.Equal(t, nodes.Fail, end)
	require.NotNil(t, mail.Template("subject"))
	require.NotNil(t, mail.Template("body"))

	sw := c.Nodes["tier"]
	require.NotNil(t, sw.Program("cases[0].expr"))
	require.NotNil(t, sw.Program("cases[1].expr"))
	require.NotNil(t, c.Nodes["lapsed"].Program("expr"))
	require.Equal(t, nodes.Day, c.Nodes["lapsed"].Config.Duration("sweep"))
	hook := c.Nodes["vip_call"]
	require.NotNil(t, hook.Template("payload"))

	lead := mustParseFile(t, "testdata/lead_scoring.json")
	lc, problems := flows.Compile(b.reg, lead, flows.ValidateOptions{})
	require.Empty(t, problems)
	require.NotNil(t, lc.Nodes["notify_sales"].Template("payload"), "the default payload is compiled too")

	bad := chain(3)
	bad.Nodes[2].Kind = "nope"
	c, problems = flows.Compile(b.reg, bad, flows.ValidateOptions{})
	require.Nil(t, c)
	require.NotEmpty(t, problems)
}
