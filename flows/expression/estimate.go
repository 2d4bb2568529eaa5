package expression

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr/ast"
)

// size is an upper bound on what a node produces: bytes as text or JSON,
// and, for a list, how many elements it may hold.
type size struct {
	bytes, count float64
}

func scalar() size { return size{bytes: 40, count: 1} }

func larger(a, b size) size {
	return size{bytes: math.Max(a.bytes, b.bytes), count: math.Max(a.count, b.count)}
}

// estimator bounds the output of a checked expression, assuming every
// input value (an attribute, a body field) is probeInputBytes long. The
// bound is loose but sound for the allowed functions; an expression
// whose bound passes MaxEvalBytes would build megabytes from ordinary
// inputs (split and join nested, toJSON of toJSON of …) and is refused
// when the journey is saved. The per-evaluation budget catches the rest
// at run time.
type estimator struct {
	src string
	err *Error
}

func estimate(src string, n ast.Node) *Error {
	e := &estimator{src: src}
	e.node(n)
	return e.err
}

func (e *estimator) node(n ast.Node) size {
	s := e.bound(n)
	if s.bytes > MaxEvalBytes && e.err == nil {
		line, col := runePosition(e.src, n.Location().From)
		e.err = &Error{Line: line, Column: col, Message: fmt.Sprintf(
			"this can build more than %s from ordinary inputs (%s each); nest split, join, toJSON and + less deeply",
			byteSize(MaxEvalBytes), byteSize(probeInputBytes))}
	}
	return s
}

func (e *estimator) bound(n ast.Node) size {
	input := size{bytes: probeInputBytes, count: probeInputBytes}
	switch n := n.(type) {
	case *ast.NilNode, *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.UnaryNode:
		for _, c := range children(n) {
			e.node(c)
		}
		return scalar()
	case *ast.StringNode:
		return size{bytes: float64(quotedLen(n.Value)), count: 1}
	case *ast.ConstantNode:
		b, err := jsonSize(n.Value, false, math.MaxInt32)
		if err != nil {
			return input
		}
		return size{bytes: float64(b), count: float64(b)}
	case *ast.IdentifierNode:
		switch n.Value {
		case "now":
			return scalar()
		case meterName:
			return size{}
		}
		return input
	case *ast.MemberNode:
		e.node(n.Property)
		return e.node(n.Node) // a part of a value is no larger than the value
	case *ast.SliceNode:
		if n.From != nil {
			e.node(n.From)
		}
		if n.To != nil {
			e.node(n.To)
		}
		return e.node(n.Node)
	case *ast.ChainNode:
		return e.node(n.Node)
	case *ast.BinaryNode:
		l, r := e.node(n.Left), e.node(n.Right)
		switch n.Operator {
		case "+":
			return size{bytes: l.bytes + r.bytes, count: l.count + r.count}
		case "??":
			return larger(l, r)
		}
		return scalar()
	case *ast.ConditionalNode:
		e.node(n.Cond)
		return larger(e.node(n.Exp1), e.node(n.Exp2))
	case *ast.ArrayNode:
		out := size{count: float64(len(n.Nodes))}
		for _, it := range n.Nodes {
			out.bytes += e.node(it).bytes + 1
		}
		return out
	case *ast.MapNode:
		out := size{count: float64(len(n.Pairs))}
		for _, p := range n.Pairs {
			out.bytes += e.node(p).bytes + 2
		}
		return out
	case *ast.PairNode:
		k, v := e.node(n.Key), e.node(n.Value)
		return size{bytes: k.bytes + v.bytes, count: 1}
	case *ast.BuiltinNode:
		args := e.all(n.Arguments)
		switch n.Name {
		case "trim", "trimPrefix", "trimSuffix", "first", "last", "get", "min", "max", "keys", "values":
			if len(args) > 0 {
				return args[0]
			}
		}
		return scalar()
	case *ast.CallNode:
		return e.call(n)
	}
	// Every other node is refused by the guard; be conservative.
	for _, c := range children(n) {
		e.node(c)
	}
	return input
}

func (e *estimator) all(nodes []ast.Node) []size {
	out := make([]size, len(nodes))
	for i, a := range nodes {
		out[i] = e.node(a)
	}
	return out
}

func (e *estimator) call(n *ast.CallNode) size {
	args := e.all(n.Arguments)
	arg := func(i int) size {
		if i < len(args) {
			return args[i]
		}
		return size{}
	}
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		// A method of a time value (now.Format(layout)): about its arguments.
		e.node(n.Callee)
		out := scalar()
		for _, a := range args {
			out.bytes += 2 * a.bytes
		}
		return out
	}
	switch id.Value {
	case "split":
		s := arg(0)
		// Up to one element per byte, each quoted when written out.
		return size{bytes: 4*s.bytes + 3, count: s.bytes + 1}
	case "join":
		l, sep := arg(0), size{}
		if len(n.Arguments) == 3 { // list, separator, meter
			sep = arg(1)
		}
		return size{bytes: l.bytes + l.count*sep.bytes, count: 1}
	case "toJSON":
		// Escaping grows a string up to six-fold; indentation adds a line
		// per element.
		x := arg(0)
		return size{bytes: 6*x.bytes + 132*x.count, count: 1}
	case "string":
		return size{bytes: 2*arg(0).bytes + 16, count: 1}
	case "lower", "upper":
		x := arg(0)
		return size{bytes: 1.5 * x.bytes, count: 1}
	case "default":
		return larger(arg(0), arg(1))
	case "__last":
		return size{bytes: probeInputBytes, count: probeInputBytes} // an event, like an input
	case "+", "+s":
		l, r := arg(0), arg(1)
		return size{bytes: l.bytes + r.bytes, count: l.count + r.count}
	}
	return scalar()
}

// children lists a node's direct sub-nodes for the node types the
// estimator does not bound one by one.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}
	}
	return nil
}
