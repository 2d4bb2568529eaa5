package flows

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a journey. NodeID names the node it is
// about, if any; Field is the config field ("expr", "cases[1].name"), a
// node attribute ("id", "kind", "title", "ports.yes"), a journey path
// ("settings.timezone", "edges[3].to", "nodes[2].position.x"), or empty
// for the node (or journey) as a whole.
type Problem struct {
	NodeID  string `json:"node_id"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// String formats the problem on one line, e.g.
// `node "is_cn": expr: line 1, column 9: unknown name profle`.
func (p Problem) String() string {
	var b strings.Builder
	if p.NodeID != "" {
		fmt.Fprintf(&b, "node %q: ", p.NodeID)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ParseError is returned by Parse for a document that is not valid
// JSON, exceeds the size limit, or does not have the v1 shape. It lists
// every problem found.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid journey document"
	}
	s := "invalid journey document: " + e.Problems[0].String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}
