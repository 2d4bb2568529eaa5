package flows_test

import (
	"fmt"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
)

func ExampleParse() {
	_, err := flows.Parse([]byte(`{"format": 1, "name": "x", "nodes": [{"id": "a", "position": {"x": "left", "y": 0}}]}`))
	fmt.Println(err)
	// Output:
	// invalid journey document: node "a": nodes[0].position.x: expected a number, got a string
}

func ExampleValidate() {
	reg := nodes.NewRegistry()
	if err := builtin.Register(reg); err != nil {
		panic(err)
	}
	j, err := flows.Parse([]byte(`{
	  "format": 1, "name": "Welcome",
	  "nodes": [
	    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	    {"id": "is_cn", "kind": "condition", "config": {"expr": "profle.country == \"CN\""}},
	    {"id": "wait", "kind": "delay", "config": {"duration": "3y"}}
	  ],
	  "edges": [{"from": "start", "to": "is_cn"}, {"from": "is_cn", "port": "no", "to": "wait"}]
	}`))
	if err != nil {
		panic(err)
	}
	for _, p := range flows.Validate(reg, j, flows.ValidateOptions{}) {
		fmt.Println(p)
	}
	// Output:
	// node "is_cn": expr: line 1, column 1: unknown name profle
	// node "wait": duration: invalid duration "3y": unknown unit "y" (use w, d, h, m or s)
}

func ExampleCompile() {
	reg := nodes.NewRegistry()
	if err := builtin.Register(reg); err != nil {
		panic(err)
	}
	j, _ := flows.Parse([]byte(`{
	  "format": 1, "name": "Welcome",
	  "nodes": [
	    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
	    {"id": "is_cn", "kind": "condition", "config": {"expr": "profile.country == \"CN\""}},
	    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "Hello"}}
	  ],
	  "edges": [{"from": "start", "to": "is_cn"}, {"from": "is_cn", "port": "yes", "to": "hello"}]
	}`))
	c, problems := flows.Compile(reg, j, flows.ValidateOptions{})
	fmt.Println(len(problems), c.Triggers[0].ID)
	cond := c.Nodes["is_cn"]
	next, _, _ := c.Follow(cond, "yes")
	_, end, _ := c.Follow(cond, "no")
	fmt.Println(next.ID, end)
	// Output:
	// 0 start
	// hello complete
}

func ExampleDiff() {
	a, _ := flows.Parse([]byte(`{"format": 1, "name": "v1", "nodes": [{"id": "w", "kind": "delay", "config": {"duration": "1d"}}]}`))
	b, _ := flows.Parse([]byte(`{"format": 1, "name": "v1", "nodes": [{"id": "w", "kind": "delay", "config": {"duration": "2d"}}]}`))
	d := flows.Diff(a, b)
	fmt.Println(d.Changed[0].ID, d.Changed[0].Changes[0].Path, d.Changed[0].Changes[0].From, "→", d.Changed[0].Changes[0].To)
	// Output:
	// w duration 1d → 2d
}
