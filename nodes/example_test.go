package nodes_test

import (
	"fmt"

	"github.com/waymarkhq/waymark/nodes"
)

func ExampleRegistry() {
	reg := nodes.NewRegistry()
	reg.MustRegister(nodes.Spec{
		Kind: "delay", Title: "Delay", Category: nodes.Flow, Waits: true,
		Fields: []nodes.Field{
			{Name: "duration", Title: "Duration", Type: nodes.Duration, Required: true, Help: "How long to wait, e.g. 2h or 3d"},
		},
		Ports: []nodes.Port{{Name: "out", IfUnconnected: nodes.MustConnect}},
	})
	spec, _ := reg.Lookup("delay")
	cfg, problems := spec.Normalize(map[string]any{"duration": "1w"})
	fmt.Println(cfg.Duration("duration"), problems)
	_, problems = spec.Normalize(map[string]any{"duration": "3y"})
	fmt.Println(problems)
	// Output:
	// 168h0m0s []
	// [{duration invalid duration "3y": unknown unit "y" (use w, d, h, m or s)}]
}
