package flows

import (
	"fmt"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// Compiled is a validated journey ready to run: what the engine walks.
// It is immutable and safe for concurrent use.
type Compiled struct {
	Journey  *Journey
	Settings CompiledSettings
	// Nodes by id.
	Nodes map[string]*CompiledNode
	// Triggers in document order.
	Triggers []*CompiledNode
}

// CompiledNode is one node with everything resolved.
type CompiledNode struct {
	ID    string
	Kind  string
	Title string
	Spec  nodes.Spec
	// Config is normalised: defaults applied, typed values (see
	// nodes.Config).
	Config nodes.Config
	// Ports in order (dynamic ports first). Read-only: it may be the
	// spec's own slice.
	Ports []nodes.Port
	// Next maps each connected port to the next node's id.
	Next map[string]string
	// Programs holds the compiled expression of every expression and
	// condition field present, by field path ("expr", "cases[1].expr").
	Programs map[string]*expression.Program
	// Templates holds every template field present, by field path
	// ("subject", "body", "payload").
	Templates map[string]*expression.Template
}

// Program returns the compiled expression of a field path, or nil when
// the field is absent.
func (n *CompiledNode) Program(path string) *expression.Program { return n.Programs[path] }

// Template returns the parsed template of a field path, or nil when the
// field is absent.
func (n *CompiledNode) Template(path string) *expression.Template { return n.Templates[path] }

// Port returns the named port.
func (n *CompiledNode) Port(name string) (nodes.Port, bool) {
	for _, p := range n.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return nodes.Port{}, false
}

// Follow returns the node a run moves to when it leaves n through port.
// For an unconnected port it returns nil and what the port's kind says
// that means (nodes.Complete or nodes.Fail). An unknown port is an
// error (an engine bug, or a config the spec does not give that port).
func (c *Compiled) Follow(n *CompiledNode, port string) (*CompiledNode, nodes.Unconnected, error) {
	if id, ok := n.Next[port]; ok {
		return c.Nodes[id], "", nil
	}
	p, ok := n.Port(port)
	if !ok {
		return nil, "", fmt.Errorf("following port %q of node %q: no such port", port, n.ID)
	}
	if p.Required() {
		return nil, "", fmt.Errorf("following port %q of node %q: required port is not connected", port, n.ID)
	}
	return nil, p.IfUnconnected, nil
}

// Compile validates j and, when it has no problems, compiles every
// expression and template and resolves the graph. Call it at publish;
// the result can be cached per journey version.
func Compile(reg *nodes.Registry, j *Journey, opts ValidateOptions) (*Compiled, []Problem) {
	v := newValidator(reg, j, opts, true)
	v.run()
	if len(v.problems) > 0 {
		return nil, v.problems
	}
	c := &Compiled{Journey: j, Settings: v.settings, Nodes: make(map[string]*CompiledNode, len(v.nodes))}
	for _, vn := range v.ordered() {
		cn := &CompiledNode{
			ID: vn.node.ID, Kind: vn.spec.Kind, Title: vn.node.Title, Spec: vn.spec,
			Config: vn.cfg, Ports: vn.ports, Next: vn.next,
			Programs: vn.progs, Templates: vn.tmpls,
		}
		if cn.Next == nil {
			cn.Next = map[string]string{}
		}
		if cn.Programs == nil {
			cn.Programs = map[string]*expression.Program{}
		}
		if cn.Templates == nil {
			cn.Templates = map[string]*expression.Template{}
		}
		c.Nodes[cn.ID] = cn
		if vn.trigger {
			c.Triggers = append(c.Triggers, cn)
		}
	}
	return c, nil
}
