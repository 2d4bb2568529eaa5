package expression

import (
	"fmt"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
)

// Limits enforced on every expression.
const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 4 << 10
	// MaxDepth bounds bracket nesting and chains of unary operators.
	MaxDepth = 64
	// MaxNodes bounds the parsed expression's size (expr.MaxNodes).
	MaxNodes = 300
)

// allowedBuiltins are the expr builtins an expression may call. All are
// pure and cost at most linear time in their input; the collection
// predicates, now(), repeat(), fromJSON and friends are left out.
var allowedBuiltins = map[string]bool{
	"len": true, "abs": true, "ceil": true, "floor": true, "round": true,
	"int": true, "float": true, "string": true, "type": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true,
	"split": true, "join": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true,
	"first": true, "last": true, "get": true, "keys": true, "values": true,
	"min": true, "max": true, "date": true, "duration": true, "toJSON": true,
}

// Error is a compile error with its position (1-based line and column).
type Error struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// position returns the 1-based line and column of byte offset off.
func position(src string, off int) (line, col int) {
	line, col = 1, 1
	for i, r := range src {
		if i >= off {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// precheck rejects what could hurt expr's parser: oversize input, invalid
// UTF-8 and deep nesting. It scans once, skipping string literals.
func precheck(src string) error {
	if len(src) > MaxLength {
		return &Error{Message: fmt.Sprintf("expression too long (%d bytes, at most %d)", len(src), MaxLength)}
	}
	if !utf8.ValidString(src) {
		return &Error{Message: "expression is not valid UTF-8"}
	}
	depth, unary := 0, 0
	prevOperand := false // whether the previous token ends an operand
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"', '\'', '`':
			j := skipString(src, i)
			if j < 0 {
				line, col := position(src, i)
				return &Error{Line: line, Column: col, Message: "unterminated string"}
			}
			i = j
			unary, prevOperand = 0, true
			continue
		case '(', '[', '{':
			depth++
			if depth > MaxDepth {
				line, col := position(src, i)
				return &Error{Line: line, Column: col, Message: fmt.Sprintf("nested too deeply (more than %d levels)", MaxDepth)}
			}
			unary, prevOperand = 0, false
			continue
		case ')', ']', '}':
			depth--
			unary, prevOperand = 0, true
			continue
		case '!', '-', '+':
			if c == '!' && i+1 < len(src) && src[i+1] == '=' {
				unary, prevOperand = 0, false
				i++
				continue
			}
			if !prevOperand {
				unary++
				if unary > MaxDepth {
					line, col := position(src, i)
					return &Error{Line: line, Column: col, Message: fmt.Sprintf("too many unary operators in a row (more than %d)", MaxDepth)}
				}
			}
			prevOperand = false
			continue
		}
		if isIdentByte(c) {
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			word := src[i:j]
			i = j - 1
			if word == "not" {
				unary++
				if unary > MaxDepth {
					line, col := position(src, i)
					return &Error{Line: line, Column: col, Message: fmt.Sprintf("too many unary operators in a row (more than %d)", MaxDepth)}
				}
				prevOperand = false
				continue
			}
			unary, prevOperand = 0, !isOperatorWord(word)
			continue
		}
		unary, prevOperand = 0, false
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isOperatorWord(w string) bool {
	switch w {
	case "and", "or", "in", "matches", "contains", "startsWith", "endsWith", "if", "else", "let":
		return true
	}
	return false
}

// skipString returns the index of the closing quote of the literal
// starting at i, or -1.
func skipString(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j
		}
	}
	return -1
}

// guard is the expr.Patch visitor that enforces the allow-list and
// passes now to helpers that need it. It records the first violation.
type guard struct {
	src string
	err *Error
}

func (g *guard) fail(n ast.Node, format string, args ...any) {
	if g.err != nil {
		return
	}
	line, col := runePosition(g.src, n.Location().From)
	g.err = &Error{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// runePosition returns the 1-based line and column of rune offset off.
func runePosition(src string, off int) (line, col int) {
	line, col = 1, 1
	n := 0
	for _, r := range src {
		if n >= off {
			break
		}
		n++
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Visit implements ast.Visitor.
func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if !allowedBuiltins[n.Name] {
			g.fail(n, "function %s is not allowed", n.Name)
		}
	case *ast.PredicateNode, *ast.PointerNode:
		g.fail(n, "predicates (#, map, filter, …) are not allowed")
	case *ast.VariableDeclaratorNode:
		g.fail(n, "let is not allowed")
	case *ast.SequenceNode:
		g.fail(n, "sequences (;) are not allowed")
	case *ast.BinaryNode:
		if n.Operator == ".." {
			g.fail(n, "the range operator .. is not allowed")
		}
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			g.fail(n, "$env is not allowed")
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return // a method call on a value (e.g. now.Hour()): only time values have methods
		}
		h, ok := helperByName[id.Value]
		if !ok && id.Value == "now" {
			g.fail(n, "now is a value, not a function: write now instead of now()")
			return
		}
		if !ok {
			g.fail(n, "unknown function %s", id.Value)
			return
		}
		if h.withNow && len(n.Arguments) == 1 {
			now := &ast.IdentifierNode{Value: "now"}
			now.SetLocation(n.Location())
			n.Arguments = append(n.Arguments, now)
		}
	}
}
